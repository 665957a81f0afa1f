import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { leastLoadedShard } from '../placement.js';
import { NoShardRoomError, Registry, RegistryConflictError } from './registry.js';

describe('Registry (SQLite file)', () => {
  let dir: string;
  let registry: Registry;
  const leastLoaded = (max: number) => (loads: Parameters<typeof leastLoadedShard>[0]) =>
    leastLoadedShard(loads, max);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'marina-registry-'));
    registry = await Registry.open(join(dir, 'controller', 'registry.db'));
  });

  afterEach(async () => {
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  });

  const add = (serverName: string, hostnames = [serverName], max?: number) =>
    registry.addTenant(
      { serverName, hostnames, createdTs: 1000 },
      max === undefined ? undefined : leastLoaded(max),
    );

  it('keeps tenants and their placement across reopening', async () => {
    await registry.resetShards(['shard-0', 'shard-1'], '0.1.0', 1);
    expect(await add('a.test', ['a.test', 'chat.a.test'], 10)).toMatchObject({
      shardId: 'shard-0',
    });
    expect(await add('b.test', ['b.test'], 10)).toMatchObject({ shardId: 'shard-1' });
    await registry.close();

    registry = await Registry.open(join(dir, 'controller', 'registry.db'));
    expect(await registry.listTenants()).toEqual([
      {
        serverName: 'a.test',
        hostnames: ['a.test', 'chat.a.test'],
        shardId: 'shard-0',
        createdTs: 1000,
        movingTo: null,
      },
      {
        serverName: 'b.test',
        hostnames: ['b.test'],
        shardId: 'shard-1',
        createdTs: 1000,
        movingTo: null,
      },
    ]);
    expect(await registry.shardLoads()).toEqual([
      { shardId: 'shard-0', tenants: 1, version: '0.1.0', state: 'starting' },
      { shardId: 'shard-1', tenants: 1, version: '0.1.0', state: 'starting' },
    ]);
  });

  it('refuses a taken name or host, case-insensitively, and writes nothing', async () => {
    await add('a.test', ['a.test', 'chat.example']);
    await expect(add('a.test')).rejects.toThrow(RegistryConflictError);
    await expect(add('b.test', ['CHAT.example'])).rejects.toThrow(
      'the host chat.example already routes to the tenant a.test',
    );
    await expect(add('A.TEST')).rejects.toThrow('already routes to the tenant a.test');
    expect((await registry.listTenants()).map((t) => t.serverName)).toEqual(['a.test']);
    // Once a.test is gone, its hosts are free again.
    expect(await registry.removeTenant('a.test')).toMatchObject({ serverName: 'a.test' });
    expect(await registry.removeTenant('a.test')).toBeUndefined();
    await add('b.test', ['chat.example']);
  });

  it('refuses a tenant no shard has room for, writing nothing', async () => {
    await registry.resetShards(['shard-0'], '0.1.0', 1);
    await add('a.test', undefined, 1);
    await expect(add('b.test', undefined, 1)).rejects.toThrow(NoShardRoomError);
    expect(await registry.getTenant('b.test')).toBeUndefined();
  });

  it('places waiting tenants on the least-loaded shards, leaving the rest unplaced', async () => {
    for (const name of ['a.test', 'b.test', 'c.test', 'd.test']) await add(name);
    await registry.resetShards(['shard-0', 'shard-1'], '0.1.0', 1);
    const { placed, unplaced } = await registry.placeUnplaced(leastLoaded(1));
    expect(placed.map((t) => [t.serverName, t.shardId])).toEqual([
      ['a.test', 'shard-0'],
      ['b.test', 'shard-1'],
    ]);
    expect(unplaced.map((t) => t.serverName)).toEqual(['c.test', 'd.test']);
    expect((await registry.getTenant('c.test'))?.shardId).toBeNull();
  });

  it('unplaces the tenants of shards that are no longer run', async () => {
    await registry.resetShards(['shard-0', 'shard-1'], '0.1.0', 1);
    await add('a.test', undefined, 10);
    await add('b.test', undefined, 10);
    await registry.resetShards(['shard-0'], '0.1.0', 2);
    expect((await registry.getTenant('a.test'))?.shardId).toBe('shard-0');
    expect((await registry.getTenant('b.test'))?.shardId).toBeNull();
    const { placed } = await registry.placeUnplaced(leastLoaded(10));
    expect(placed.map((t) => [t.serverName, t.shardId])).toEqual([['b.test', 'shard-0']]);
  });

  it('lists in the placement only tenants whose shard has an address, with a version', async () => {
    expect(await registry.placement()).toEqual({ version: 0, tenants: [] });
    await registry.resetShards(['shard-0', 'shard-1'], '0.1.0', 1);
    await add('a.test', ['a.test', 'chat.example'], 10);
    await add('b.test', undefined, 10);
    await registry.updateShard('shard-0', {
      state: 'running',
      trafficUrl: 'http://127.0.0.1:1234',
      adminUrl: 'http://127.0.0.1:1235',
      pid: 42,
      now: 5,
    });
    expect(await registry.bumpPlacementVersion()).toBe(1);
    expect(await registry.bumpPlacementVersion()).toBe(2);
    expect(await registry.placement()).toEqual({
      version: 2,
      tenants: [
        {
          serverName: 'a.test',
          hostnames: ['a.test', 'chat.example'],
          shardId: 'shard-0',
          trafficUrl: 'http://127.0.0.1:1234',
          moving: false,
        },
      ],
    });
    expect(await registry.listShards()).toEqual([
      {
        id: 'shard-0',
        adminUrl: 'http://127.0.0.1:1235',
        trafficUrl: 'http://127.0.0.1:1234',
        pid: 42,
        state: 'running',
        updatedTs: 5,
        version: '0.1.0',
        adminToken: null,
      },
      {
        id: 'shard-1',
        adminUrl: null,
        trafficUrl: null,
        pid: null,
        state: 'starting',
        updatedTs: 1,
        version: '0.1.0',
        adminToken: null,
      },
    ]);
  });

  it('counts a moving tenant on both shards until the move ends, and flags it moving', async () => {
    await registry.resetShards(['shard-0', 'shard-1'], '0.1.0', 1);
    await registry.updateShard('shard-0', { trafficUrl: 'http://127.0.0.1:1', now: 2 });
    await registry.updateShard('shard-1', { trafficUrl: 'http://127.0.0.1:2', now: 2 });
    await add('a.test', ['a.test'], 10);
    await registry.beginMove('a.test', 'shard-1');
    expect((await registry.shardLoads()).map((l) => l.tenants)).toEqual([1, 1]);
    expect((await registry.placement()).tenants).toEqual([
      expect.objectContaining({ shardId: 'shard-0', moving: true }),
    ]);
    await expect(registry.removeShard('shard-1')).rejects.toThrow('still holds the tenant a.test');

    await registry.endMove('a.test', true);
    expect(await registry.getTenant('a.test')).toMatchObject({
      shardId: 'shard-1',
      movingTo: null,
    });
    expect((await registry.placement()).tenants).toEqual([
      expect.objectContaining({ shardId: 'shard-1', moving: false }),
    ]);

    await registry.beginMove('a.test', 'shard-0');
    await registry.endMove('a.test', false);
    expect(await registry.getTenant('a.test')).toMatchObject({
      shardId: 'shard-1',
      movingTo: null,
    });
    expect((await registry.shardLoads()).map((l) => l.tenants)).toEqual([0, 1]);
  });

  it('adds and removes shards with their version, and forgets moves on reset', async () => {
    await registry.resetShards(['shard-0'], '0.1.0', 1);
    await registry.addShard('shard-1', '0.2.0', 3);
    expect(await registry.shardLoads()).toEqual([
      { shardId: 'shard-0', tenants: 0, version: '0.1.0', state: 'starting' },
      { shardId: 'shard-1', tenants: 0, version: '0.2.0', state: 'starting' },
    ]);
    await add('a.test', ['a.test'], 10);
    await registry.beginMove('a.test', 'shard-1');
    await registry.resetShards(['shard-0'], '0.2.0', 4);
    expect(await registry.getTenant('a.test')).toMatchObject({
      shardId: 'shard-0',
      movingTo: null,
    });
    await registry.removeShard('shard-0').catch(() => {});
    expect((await registry.listShards()).map((s) => s.id)).toEqual(['shard-0']);

    // A new controller keeps the shards it adopted, as they are, and starts the others afresh.
    await registry.updateShard('shard-0', { adminToken: 'secret', state: 'running', now: 5 });
    await registry.prepareShards(['shard-0'], ['shard-1'], '0.3.0', 6);
    expect(await registry.listShards()).toEqual([
      expect.objectContaining({ id: 'shard-0', version: '0.2.0', adminToken: 'secret' }),
      expect.objectContaining({ id: 'shard-1', version: '0.3.0', state: 'starting' }),
    ]);
    expect(await registry.getTenant('a.test')).toMatchObject({ shardId: 'shard-0' });
    await registry.setMetaValue('target_version', '0.2.0');
    expect(await registry.metaValue('target_version')).toBe('0.2.0');
  });

  it('orders shards the way people count', async () => {
    const ids = Array.from({ length: 12 }, (_, k) => `shard-${k}`);
    await registry.resetShards(ids, '0.1.0', 1);
    expect((await registry.listShards()).map((s) => s.id)).toEqual(ids);
    expect((await registry.shardLoads()).map((s) => s.shardId)).toEqual(ids);
  });
});
