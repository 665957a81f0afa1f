import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { controllerAdmin } from '../helpers/controller-admin.js';
import { startController } from '../helpers/controller-process.js';
import { requestWithHost } from '../helpers/http-with-host.js';
import { startMarina } from '../helpers/marina-process.js';

/**
 * A controller killed with SIGKILL cannot stop its shards: each shard notices by itself (its
 * standard input, a pipe from the controller, reaches its end), stops cleanly and exits, rather
 * than living on as an orphan holding its ports and its tenants' databases.
 */

/** A clean stop takes well under a second; this leaves room for a loaded machine. */
const GONE_WITHIN_MS = 10_000;

interface ShardInfo {
  shard_id: string;
  pid: number | null;
  traffic_url: string | null;
}

/** Whether a process runs (a zombie, exited but not yet reaped, does not count). */
async function running(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) S …": the state follows the command name's closing parenthesis.
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function waitUntilGone(pids: number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive: number[] = [];
    for (const pid of pids) if (await running(pid)) alive.push(pid);
    if (alive.length === 0 || Date.now() > deadline) return alive;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

describe('shards whose controller is killed with SIGKILL', () => {
  const dirs: string[] = [];
  /** Shards of a failed test are killed here, so that no test leaves processes behind. */
  const shardPids: number[] = [];

  afterEach(async () => {
    for (const pid of shardPids.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already, as it should be
      }
    }
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  it('stop and exit by themselves under `marina controller`, closing their tenants', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'marina-crash-controller-'));
    dirs.push(dataDir);
    const controller = await startController(dataDir, ['--shards', '2']);
    const created = await controller.api('POST', '/tenants', { server_name: 'alpha.localhost' });
    expect(created.status).toBe(200);
    const shards = (await controller.api('GET', '/shards')).body.shards as ShardInfo[];
    const pids = shards.map((shard) => shard.pid as number);
    expect(pids).toHaveLength(2);
    shardPids.push(...pids);
    // Wake alpha, so that its shard holds its database open.
    const alphaShard = shards.find((shard) => shard.shard_id === created.body.shard_id)!;
    const versions = await requestWithHost(alphaShard.traffic_url!, {
      host: 'alpha.localhost',
      path: '/_matrix/client/v3/login',
    });
    expect(versions.status).toBe(200);
    const wal = join(dataDir, 'tenants', 'alpha.localhost', 'homeserver.db-wal');
    expect(await exists(wal)).toBe(true);

    await controller.stop('SIGKILL');
    expect(await waitUntilGone(pids, GONE_WITHIN_MS)).toEqual([]);
    // The database was closed cleanly: SQLite folds its log back and removes it on close.
    expect(await exists(wal)).toBe(false);
  });

  it('stop and exit by themselves under `marina up`', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'marina-crash-up-'));
    dirs.push(dataDir);
    const marina = await startMarina([
      'up',
      '--data-dir',
      dataDir,
      '--listen',
      '127.0.0.1:0',
      '--shards',
      '2',
    ]);
    const admin = await controllerAdmin(dataDir);
    const shards = (await admin('GET', '/shards')).body.shards as ShardInfo[];
    const pids = shards.map((shard) => shard.pid as number);
    expect(pids).toHaveLength(2);
    shardPids.push(...pids);
    expect((await fetch(`${marina.url}/_matrix/client/v3/login`)).status).toBe(200);

    await marina.stop('SIGKILL');
    expect(await waitUntilGone(pids, GONE_WITHIN_MS)).toEqual([]);
  });
});
