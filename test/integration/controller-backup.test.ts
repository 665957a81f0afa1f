import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startController, type ControllerProcess } from '../helpers/controller-process.js';
import { requestWithHost } from '../helpers/http-with-host.js';
import { runMarina } from '../helpers/marina-process.js';

/**
 * `marina controller backup FILE` saves the controller's state (its registry) while it runs;
 * `restore FILE` brings it back after the registry is lost, and the next controller serves the
 * tenants it names, where they were.
 */
describe('controller backup and restore', () => {
  let dataDir: string;
  let controller: ControllerProcess | undefined;
  const marina = (args: string[]) => runMarina([...args, '--data-dir', dataDir]);

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'marina-backup-'));
  });

  afterAll(async () => {
    await controller?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('backs up a running controller and restores the registry after it is lost', async () => {
    controller = await startController(dataDir, ['--shards', '2']);
    for (const name of ['alpha.localhost', 'beta.localhost']) {
      expect((await controller.api('POST', '/tenants', { server_name: name })).status).toBe(200);
    }
    const moved = await controller.api('POST', '/tenants/alpha.localhost/move', {});
    expect(moved.status).toBe(200);
    const alphaShard = moved.body.to as string;

    const file = join(dataDir, 'registry.backup');
    const saved = await marina(['controller', 'backup', file]);
    expect(saved.code).toBe(0);
    expect(saved.stdout).toContain('2 tenant(s)');
    const again = await marina(['controller', 'backup', file]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('exists already');
    const whileRunning = await marina(['controller', 'restore', file]);
    expect(whileRunning.code).toBe(1);
    expect(whileRunning.stderr).toContain('stop it before restoring');

    expect(await controller.stop()).toBe(0);
    controller = undefined;
    // The registry is lost: a fresh, empty one stands in its place.
    for (const suffix of ['', '-wal', '-shm']) {
      await rm(join(dataDir, 'controller', `registry.db${suffix}`), { force: true });
    }
    const notABackup = join(dataDir, 'not-a-backup');
    await writeFile(notABackup, 'hello');
    const refused = await marina(['controller', 'restore', notABackup]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('is not a registry backup');

    const restored = await marina(['controller', 'restore', file]);
    expect(restored.code).toBe(0);
    expect(restored.stdout).toContain('restored the registry (2 tenant(s))');

    controller = await startController(dataDir, ['--shards', '2']);
    const tenant = await controller.api('GET', '/tenants/alpha.localhost');
    expect(tenant.body.shard_id).toBe(alphaShard);
    const { tenants } = (await controller.api('GET', '/placement')).body as {
      tenants: { server_name: string; traffic_url: string }[];
    };
    expect(tenants.map((t) => t.server_name)).toEqual(['alpha.localhost', 'beta.localhost']);
    const versions = await requestWithHost(tenants[0]!.traffic_url, {
      host: 'alpha.localhost',
      path: '/_matrix/client/versions',
    });
    expect(versions.status).toBe(200);
  });
});
