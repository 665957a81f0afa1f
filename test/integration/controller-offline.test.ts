import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalTenantStore } from '../../src/controller/local-tenant-store.js';
import { startController, type ControllerProcess } from '../helpers/controller-process.js';
import { requestWithHost } from '../helpers/http-with-host.js';
import { runMarina } from '../helpers/marina-process.js';

/**
 * `marina tenant …` with no controller running edits the data directory; the next `marina
 * controller` places and serves what it finds there, within its `--max-tenants-per-shard`.
 */
describe('tenant commands without a running controller, then a controller', () => {
  let dataDir: string;
  let controller: ControllerProcess | undefined;
  const marina = (args: string[]) => runMarina([...args, '--data-dir', dataDir]);

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'marina-offline-'));
  });

  afterAll(async () => {
    await controller?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates, lists, shows and deletes tenants in the data directory', async () => {
    const created = await marina([
      'tenant',
      'create',
      'alpha.localhost',
      '--hostname',
      'www.alpha.localhost',
      '--registration',
      'token',
      '--json',
    ]);
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({
      server_name: 'alpha.localhost',
      hostnames: ['www.alpha.localhost'],
      registration_mode: 'token',
      shard_id: null,
      tenant_dir: join(dataDir, 'tenants', 'alpha.localhost'),
    });
    const text = await marina(['tenant', 'create', 'beta.localhost']);
    expect(text.code).toBe(0);
    expect(text.stderr).toContain('no controller runs, so it starts with the next one');
    expect(text.stdout).toMatch(/^registration_shared_secret: \S{32,}$/m);

    const listed = await marina(['tenant', 'list', '--json']);
    expect(JSON.parse(listed.stdout)).toEqual([
      {
        server_name: 'alpha.localhost',
        hostnames: ['www.alpha.localhost'],
        shard_id: null,
        state: 'stopped',
      },
      {
        server_name: 'beta.localhost',
        hostnames: ['beta.localhost'],
        shard_id: null,
        state: 'stopped',
      },
    ]);

    const duplicate = await marina(['tenant', 'create', 'alpha.localhost']);
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toContain('tenant alpha.localhost already exists');
    const badMode = await marina(['tenant', 'create', 'x.localhost', '--registration', 'maybe']);
    expect(badMode.code).toBe(1);
    expect(badMode.stderr).toContain('Allowed choices are open, token, closed');

    const typo = await runMarina(['tenant', 'list', '--data-dir', `${dataDir}-typo`]);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain(`there is no data directory ${dataDir}-typo`);

    const purged = await marina(['tenant', 'delete', 'beta.localhost', '--purge', '--json']);
    expect(JSON.parse(purged.stdout)).toEqual({ server_name: 'beta.localhost', purged: true });
    expect(await readdir(join(dataDir, 'tenants'))).toEqual(['alpha.localhost']);
    const missing = await marina(['tenant', 'delete', 'beta.localhost']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no tenant beta.localhost');
  });

  it('the next controller places them, adopts older tenant folders and serves them', async () => {
    // A tenant folder from before the registry (what `marina up` created until now).
    await new LocalTenantStore(dataDir).create('localhost');
    controller = await startController(dataDir, [
      '--shards',
      '1',
      '--max-tenants-per-shard',
      '2',
      '--max-shards-per-version',
      '1',
    ]);

    const { tenants } = (await controller.api('GET', '/placement')).body as {
      tenants: { server_name: string; shard_id: string; traffic_url: string }[];
    };
    expect(tenants.map((t) => [t.server_name, t.shard_id])).toEqual([
      ['alpha.localhost', 'shard-0'],
      ['localhost', 'shard-0'],
    ]);
    for (const host of ['www.alpha.localhost', 'localhost']) {
      const versions = await requestWithHost(tenants[0]!.traffic_url, {
        host,
        path: '/_matrix/client/versions',
      });
      expect(versions.status).toBe(200);
    }
  });

  it('keeps a tenant no allowed shard has room for waiting, until a place frees up', async () => {
    // One shard of two tenants and no second shard allowed: "shards full".
    const waiting = await marina(['tenant', 'create', 'gamma.localhost', '--json']);
    expect(waiting.code).toBe(0);
    expect(JSON.parse(waiting.stdout).shard_id).toBeNull();
    expect((await controller!.api('GET', '/tenants/gamma.localhost')).body.state).toBe('unplaced');
    expect(
      controller!.logLines.some(
        (line) => line.shards_full === true && line.server_name === 'gamma.localhost',
      ),
    ).toBe(true);
    const metrics = await fetch(new URL('/metrics', controller!.url)).then((r) => r.text());
    expect(metrics).toMatch(/^synapse_shards_controller_pending_shards_full 1$/m);

    expect((await marina(['tenant', 'delete', 'alpha.localhost'])).code).toBe(0);
    const placed = await controller!.api('GET', '/tenants/gamma.localhost');
    expect(placed.body.shard_id).toBe('shard-0');
  });

  it('refuses a second controller on the same data directory', async () => {
    const second = await runMarina(['controller', '--data-dir', dataDir]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`a controller already runs for ${dataDir}`);
    // The first one is unharmed.
    expect((await controller!.api('GET', '/tenants')).status).toBe(200);
  });

  it('ignores the controller.json of a controller that was killed', async () => {
    const { shards } = (await controller!.api('GET', '/shards')).body as {
      shards: { pid: number }[];
    };
    await controller!.stop('SIGKILL');
    controller = undefined;
    // Its shards were left behind by the kill; end them as an operator would.
    for (const { pid } of shards) process.kill(pid, 'SIGTERM');
    expect((await stat(join(dataDir, 'controller', 'controller.json'))).isFile()).toBe(true);

    const listed = await marina(['tenant', 'list', '--json']);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout).map((t: { server_name: string }) => t.server_name)).toEqual([
      'gamma.localhost',
      'localhost',
    ]);
    controller = await startController(dataDir, ['--shards', '1']);
    expect((await controller.api('GET', '/tenants/gamma.localhost')).body.shard_id).toBe('shard-0');
  });
});
