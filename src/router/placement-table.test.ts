import { describe, expect, it } from 'vitest';
import { parsePlacement, type Placement } from './placement.js';
import { PlacementTable } from './placement-table.js';

const placement: Placement = {
  version: 7,
  tenants: [
    {
      server_name: 'alpha.localhost',
      hostnames: ['Matrix.Alpha.Example', 'alpha.localhost'],
      shard_id: 'shard-1',
      traffic_url: 'http://127.0.0.1:4001',
    },
    {
      server_name: 'beta.test:8448',
      hostnames: [],
      shard_id: 'shard-2',
      traffic_url: 'http://[::1]:4002',
    },
    {
      server_name: 'localhost',
      hostnames: [],
      shard_id: 'shard-1',
      traffic_url: 'http://127.0.0.1:4001',
    },
    { server_name: 'parked.test', hostnames: [], shard_id: null, traffic_url: null },
  ],
};

describe('PlacementTable', () => {
  const table = new PlacementTable(placement);

  it('finds a tenant by server_name or any host name, case-insensitively', () => {
    expect(table.lookup('alpha.localhost')?.route).toMatchObject({
      serverName: 'alpha.localhost',
      shardId: 'shard-1',
    });
    expect(table.lookup('matrix.alpha.example')?.route.serverName).toBe('alpha.localhost');
    expect(table.lookup('alpha.localhost')?.route.trafficUrl?.origin).toBe('http://127.0.0.1:4001');
    expect(table.lookup('alpha.localhost')?.byDefault).toBe(false);
  });

  it('indexes a server_name with a port by its host name', () => {
    expect(table.lookup('beta.test')?.route.serverName).toBe('beta.test:8448');
    expect(table.lookup('beta.test')?.route.trafficUrl?.origin).toBe('http://[::1]:4002');
  });

  it('knows tenants on no shard, without a traffic URL', () => {
    expect(table.lookup('parked.test')?.route).toEqual({
      serverName: 'parked.test',
      shardId: null,
      trafficUrl: null,
      moving: false,
    });
  });

  it('finds nothing for other hosts', () => {
    expect(table.lookup('gamma.localhost')).toBeUndefined();
    expect(table.lookup('127.0.0.1')).toBeUndefined();
    expect(table.lookup(undefined)).toBeUndefined();
  });

  it('gives the default tenant requests naming no host or an IP address, never a name', () => {
    const withDefault = new PlacementTable(placement, 'localhost');
    for (const hostname of [undefined, '127.0.0.1', '10.1.2.3', '[::1]', '[2001:db8::1]']) {
      expect(withDefault.lookup(hostname)).toMatchObject({
        route: { serverName: 'localhost' },
        byDefault: true,
      });
    }
    // A name that no tenant claims (a deleted tenant's, a mistyped one) is nobody's.
    expect(withDefault.lookup('gamma.localhost')).toBeUndefined();
    expect(withDefault.lookup('127.0.0.1.example')).toBeUndefined();
    expect(withDefault.lookup('alpha.localhost')?.byDefault).toBe(false);
  });

  it('has no default when the default tenant is not placed', () => {
    expect(new PlacementTable(placement, 'absent.test').lookup('127.0.0.1')).toBeUndefined();
  });

  it('lists the shard origins it sends to', () => {
    expect([...table.trafficOrigins()].sort()).toEqual([
      'http://127.0.0.1:4001',
      'http://[::1]:4002',
    ]);
    expect(table.version).toBe(7);
    expect(table.tenantCount).toBe(4);
  });

  it('keeps the first tenant of a host claimed twice and reports the conflict', () => {
    const clash = new PlacementTable({
      version: 1,
      tenants: [
        {
          server_name: 'a.test',
          hostnames: ['shared.test'],
          shard_id: '1',
          traffic_url: 'http://127.0.0.1:1',
        },
        {
          server_name: 'b.test',
          hostnames: ['SHARED.test'],
          shard_id: '1',
          traffic_url: 'http://127.0.0.1:1',
        },
      ],
    });
    expect(clash.lookup('shared.test')?.route.serverName).toBe('a.test');
    expect(clash.problems).toEqual(['host shared.test of b.test already routes to a.test']);
  });

  it('refuses traffic URLs that are not http://', () => {
    const odd = new PlacementTable({
      version: 1,
      tenants: [
        { server_name: 'a.test', hostnames: [], shard_id: '1', traffic_url: 'https://127.0.0.1:1' },
        { server_name: 'b.test', hostnames: [], shard_id: '1', traffic_url: 'not a url' },
      ],
    });
    expect(odd.lookup('a.test')?.route.trafficUrl).toBeNull();
    expect(odd.lookup('b.test')?.route.trafficUrl).toBeNull();
    expect(odd.problems).toHaveLength(2);
  });
});

describe('parsePlacement', () => {
  it('reads the controller document, filling optional fields', () => {
    expect(
      parsePlacement({
        version: 3,
        tenants: [{ server_name: 'a.test', shard_id: 2, traffic_url: 'http://127.0.0.1:9' }],
      }),
    ).toEqual({
      version: 3,
      tenants: [
        {
          server_name: 'a.test',
          hostnames: [],
          shard_id: '2',
          traffic_url: 'http://127.0.0.1:9',
          moving: false,
        },
      ],
    });
  });

  it('reads whether a tenant is moving', () => {
    const parsed = parsePlacement({
      version: 4,
      tenants: [
        { server_name: 'a.test', shard_id: '1', traffic_url: 'http://127.0.0.1:9', moving: true },
        { server_name: 'b.test', shard_id: '1', traffic_url: 'http://127.0.0.1:9', moving: false },
      ],
    });
    expect(parsed.tenants.map((tenant) => tenant.moving)).toEqual([true, false]);
    const table = new PlacementTable(parsed);
    expect(table.lookup('a.test')?.route.moving).toBe(true);
    expect(table.lookup('b.test')?.route.moving).toBe(false);
    expect(() =>
      parsePlacement({ version: 1, tenants: [{ server_name: 'a.test', moving: 'yes' }] }),
    ).toThrow(/not a placement document/);
  });

  it('refuses documents that are not placements', () => {
    expect(() => parsePlacement({ tenants: [] })).toThrow(/not a placement document/);
    expect(() => parsePlacement({ version: 1, tenants: [{ hostnames: [] }] })).toThrow(
      /not a placement document/,
    );
    expect(() => parsePlacement('nope')).toThrow(/not a placement document/);
  });
});
