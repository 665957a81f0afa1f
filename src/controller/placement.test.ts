import { describe, expect, it } from 'vitest';
import {
  decidePlacement,
  leastLoadedShard,
  parseMaxTenantsPerShard,
  parseRedistributionThreshold,
  shardToConsolidate,
} from './placement.js';
import type { ShardLoad, ShardState } from './registry/registry.js';

const loads = (...counts: number[]): ShardLoad[] =>
  counts.map((tenants, k) => ({ shardId: `shard-${k}`, tenants, version: '1', state: 'running' }));

const withState = (list: ShardLoad[], k: number, state: ShardState, version = '1') =>
  list.map((load, i) => (i === k ? { ...load, state, version } : load));

describe('leastLoadedShard', () => {
  it('picks the shard with the fewest tenants', () => {
    expect(leastLoadedShard(loads(3, 1, 2), 10)).toBe('shard-1');
  });

  it('breaks ties by shard order', () => {
    expect(leastLoadedShard(loads(2, 1, 1), 10)).toBe('shard-1');
    expect(leastLoadedShard(loads(0, 0), 10)).toBe('shard-0');
  });

  it('skips full shards, and finds none when all are full', () => {
    expect(leastLoadedShard(loads(1, 5, 2), 2)).toBe('shard-0');
    expect(leastLoadedShard(loads(2, 2), 2)).toBeUndefined();
    expect(leastLoadedShard([], 2)).toBeUndefined();
  });
});

describe('decidePlacement', () => {
  const knobs = { maxTenantsPerShard: 2, maxShardsPerVersion: 3 };

  it('fills existing shards of the version first', () => {
    expect(decidePlacement(loads(2, 1), knobs, '1')).toEqual({ kind: 'shard', shardId: 'shard-1' });
  });

  it('starts a new shard only when every shard is full, up to the limit per version', () => {
    expect(decidePlacement(loads(2, 2), knobs, '1')).toEqual({ kind: 'new-shard' });
    expect(decidePlacement(loads(2, 2, 2), knobs, '1')).toEqual({ kind: 'full' });
    // Shards of another version neither take the tenant nor count towards the limit.
    expect(decidePlacement(withState(loads(2, 2, 0), 2, 'running', '0'), knobs, '1')).toEqual({
      kind: 'new-shard',
    });
  });

  it('never picks a draining or retiring shard, nor the excluded one', () => {
    expect(decidePlacement(withState(loads(2, 0), 1, 'draining'), knobs, '1')).toEqual({
      kind: 'new-shard',
    });
    expect(decidePlacement(withState(loads(0, 1), 0, 'retiring'), knobs, '1')).toEqual({
      kind: 'shard',
      shardId: 'shard-1',
    });
    expect(decidePlacement(loads(0, 1), knobs, '1', 'shard-0')).toEqual({
      kind: 'shard',
      shardId: 'shard-1',
    });
  });
});

describe('shardToConsolidate', () => {
  const options = { threshold: 1.5, minShards: 1, maxTenantsPerShard: 2, version: '1' };

  it('empties the least loaded shard (the last among equals) when the average is low', () => {
    expect(shardToConsolidate(loads(1, 1), options)).toBe('shard-1');
    expect(shardToConsolidate(loads(2, 0, 1), options)).toBe('shard-1');
  });

  it('does nothing above the threshold, at the minimum, when off, or when it would not fit', () => {
    expect(shardToConsolidate(loads(2, 1), options)).toBeUndefined();
    expect(shardToConsolidate(loads(1), options)).toBeUndefined();
    expect(shardToConsolidate(loads(1, 1), { ...options, minShards: 2 })).toBeUndefined();
    expect(shardToConsolidate(loads(1, 1), { ...options, threshold: 0 })).toBeUndefined();
    expect(shardToConsolidate(loads(1, 1), { ...options, maxTenantsPerShard: 1 })).toBeUndefined();
  });
});

describe('knob parsing', () => {
  it('takes positive integers only for maxTenantsPerShard', () => {
    expect(parseMaxTenantsPerShard('25')).toBe(25);
    expect(parseMaxTenantsPerShard(1)).toBe(1);
    for (const bad of ['0', '-1', '1.5', 'many', '']) {
      expect(() => parseMaxTenantsPerShard(bad)).toThrow('positive integer');
    }
  });

  it('takes numbers ≥ 0 for the redistribution threshold', () => {
    expect(parseRedistributionThreshold('1.5')).toBe(1.5);
    expect(parseRedistributionThreshold('0')).toBe(0);
    for (const bad of ['-1', 'x', '', 'Infinity']) {
      expect(() => parseRedistributionThreshold(bad)).toThrow('number ≥ 0');
    }
  });
});
