import { mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MatrixError } from '../core/errors.js';
import { LocalTenantStore } from './local-tenant-store.js';
import { leastLoadedShard } from './placement.js';
import { TenantCatalog } from './tenant-catalog.js';

async function matrixErrorOf(promise: Promise<unknown>): Promise<MatrixError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof MatrixError)) throw new Error(`expected a MatrixError, got ${error}`);
  return error;
}

describe('TenantCatalog (registry + tenant folders)', () => {
  let dataDir: string;
  let catalog: TenantCatalog;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'marina-catalog-'));
    catalog = await TenantCatalog.open(dataDir);
  });

  afterEach(async () => {
    await catalog.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates a tenant folder with the asked settings and registers it', async () => {
    await catalog.registry.resetShards(['shard-0'], '0.1.0', 1);
    const created = await catalog.create(
      { serverName: 'alpha.test', hostnames: ['chat.alpha.test'], registration: 'open' },
      (loads) => leastLoadedShard(loads, 10),
    );
    expect(created).toMatchObject({ shardId: 'shard-0', hostnames: ['chat.alpha.test'] });
    const settings = await catalog.settings('alpha.test');
    expect(settings).toMatchObject({
      server_name: 'alpha.test',
      hostnames: ['chat.alpha.test'],
      registration_mode: 'open',
      shard_id: 'shard-0',
      tenant_dir: join(dataDir, 'tenants', 'alpha.test'),
    });
    expect(settings.registration_shared_secret.length).toBeGreaterThanOrEqual(32);
    expect(settings.signing_key_id).toMatch(/^ed25519:/);
    expect(await new LocalTenantStore(dataDir).list()).toEqual(['alpha.test']);
  });

  it('refuses a duplicate (409) and a full set of shards, leaving no folder behind', async () => {
    await catalog.registry.resetShards(['shard-0'], '0.1.0', 1);
    const place = (loads: Parameters<typeof leastLoadedShard>[0]) => leastLoadedShard(loads, 1);
    await catalog.create({ serverName: 'alpha.test' }, place);

    const duplicate = await matrixErrorOf(catalog.create({ serverName: 'alpha.test' }, place));
    expect([duplicate.status, duplicate.errcode]).toEqual([409, 'M_UNKNOWN']);
    expect(duplicate.message).toBe('tenant alpha.test already exists');

    const hostTaken = await matrixErrorOf(
      catalog.create({ serverName: 'beta.test', hostnames: ['alpha.test'] }),
    );
    expect(hostTaken.status).toBe(409);
    expect(hostTaken.message).toContain('already routes to the tenant alpha.test');

    const full = await matrixErrorOf(catalog.create({ serverName: 'gamma.test' }, place));
    expect(full.errcode).toBe('M_RESOURCE_LIMIT_EXCEEDED');
    expect(full.message).toContain('--max-tenants-per-shard');

    expect(await readdir(join(dataDir, 'tenants'))).toEqual(['alpha.test']);
  });

  it('deletes keeping the data aside, or purging it; unknown tenants are 404', async () => {
    await catalog.create({ serverName: 'alpha.test' });
    await catalog.create({ serverName: 'beta.test' });
    const seen: string[] = [];
    const kept = await catalog.remove('alpha.test', { purge: false }, async (tenant) => {
      // Called after the registry forgot it, before its data moves.
      seen.push(tenant.serverName);
      expect(await catalog.registry.getTenant('alpha.test')).toBeUndefined();
      expect((await stat(join(dataDir, 'tenants', 'alpha.test'))).isDirectory()).toBe(true);
    });
    expect(seen).toEqual(['alpha.test']);
    expect(kept.kept_at).toMatch(/deleted-tenants\/alpha\.test\./);
    expect((await stat(join(kept.kept_at!, 'tenant.json'))).isFile()).toBe(true);

    expect(await catalog.remove('beta.test', { purge: true })).toEqual({
      server_name: 'beta.test',
      purged: true,
    });
    expect(await readdir(join(dataDir, 'tenants'))).toEqual([]);

    const unknown = await matrixErrorOf(catalog.remove('alpha.test', { purge: false }));
    expect([unknown.status, unknown.errcode]).toEqual([404, 'M_NOT_FOUND']);
    expect((await matrixErrorOf(catalog.settings('alpha.test'))).errcode).toBe('M_NOT_FOUND');

    // The name is free again.
    await catalog.create({ serverName: 'alpha.test' });
  });

  it('adopts tenant folders it does not know and forgets entries whose folder is gone', async () => {
    await catalog.create({ serverName: 'gone.test' });
    await catalog.close();
    const store = new LocalTenantStore(dataDir);
    await store.create('older.test', { hostnames: ['older.test', 'www.older.test'] });
    await rm(store.tenantDir('gone.test'), { recursive: true });
    // A folder still being created is not a tenant.
    await mkdir(join(dataDir, 'tenants', 'half.test.creating-0000'));
    // A folder moved back from deleted-tenants is a tenant again.
    await store.create('back.test');
    await mkdir(join(dataDir, 'deleted-tenants'));
    await rename(store.tenantDir('back.test'), join(dataDir, 'deleted-tenants', 'back.test.x'));

    catalog = await TenantCatalog.open(dataDir);
    expect(await catalog.registry.listTenants()).toEqual([
      expect.objectContaining({
        serverName: 'older.test',
        hostnames: ['older.test', 'www.older.test'],
        shardId: null,
      }),
    ]);
    await catalog.close();
    await rename(join(dataDir, 'deleted-tenants', 'back.test.x'), store.tenantDir('back.test'));
    catalog = await TenantCatalog.open(dataDir);
    expect((await catalog.registry.listTenants()).map((t) => t.serverName)).toEqual([
      'back.test',
      'older.test',
    ]);
  });
});
