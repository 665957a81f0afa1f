import { describe, expect, it } from 'vitest';
import { leastLoadedShard, parseMaxTenantsPerShard } from './placement.js';

const loads = (...counts: number[]) =>
  counts.map((tenants, k) => ({ shardId: `shard-${k}`, tenants }));

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

describe('parseMaxTenantsPerShard', () => {
  it('takes positive integers only', () => {
    expect(parseMaxTenantsPerShard('25')).toBe(25);
    expect(parseMaxTenantsPerShard(1)).toBe(1);
    for (const bad of ['0', '-1', '1.5', 'many', '']) {
      expect(() => parseMaxTenantsPerShard(bad)).toThrow('positive integer');
    }
  });
});
