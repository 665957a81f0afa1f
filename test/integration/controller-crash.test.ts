import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { controllerAdmin } from '../helpers/controller-admin.js';
import { startController } from '../helpers/controller-process.js';
import { requestWithHost } from '../helpers/http-with-host.js';
import { startMarina } from '../helpers/marina-process.js';

/**
 * The shards of `marina controller` outlive it: a controller killed with SIGKILL (or stopped with
 * `--leave-shards-running`) leaves them serving their tenants, and the next controller adopts
 * them, same processes, same addresses. Under `marina up`, whose router dies with it, the shards
 * stop by themselves (their standard input, a pipe from `up`, reaches its end) rather than live
 * on as orphans holding ports and databases.
 */

/** A clean stop takes well under a second; this leaves room for a loaded machine. */
const GONE_WITHIN_MS = 20_000;

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

  it('keep serving when `marina controller` is killed, and the next controller adopts them', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'marina-crash-controller-'));
    dirs.push(dataDir);
    let controller = await startController(dataDir, ['--shards', '2']);
    const created = await controller.api('POST', '/tenants', { server_name: 'alpha.localhost' });
    expect(created.status).toBe(200);
    const before = (await controller.api('GET', '/shards')).body.shards as ShardInfo[];
    const pids = before.map((shard) => shard.pid as number);
    expect(pids).toHaveLength(2);
    shardPids.push(...pids);
    const alphaShard = before.find((shard) => shard.shard_id === created.body.shard_id)!;
    const login = () =>
      requestWithHost(alphaShard.traffic_url!, {
        host: 'alpha.localhost',
        path: '/_matrix/client/v3/login',
      });
    expect((await login()).status).toBe(200);

    await controller.stop('SIGKILL');
    // Nothing stops them: they serve on, for seconds, without a controller.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    for (const pid of pids) expect(await running(pid)).toBe(true);
    expect((await login()).status).toBe(200);

    controller = await startController(dataDir, ['--shards', '2']);
    const after = (await controller.api('GET', '/shards')).body.shards as ShardInfo[];
    expect(after.map((shard) => [shard.shard_id, shard.pid, shard.traffic_url])).toEqual(
      before.map((shard) => [shard.shard_id, shard.pid, shard.traffic_url]),
    );
    expect(
      controller.logLines.filter((line) => String(line.msg).startsWith('adopted shard')),
    ).toHaveLength(2);
    expect((await controller.api('GET', '/tenants/alpha.localhost')).body.state).toBe('awake');
    // Its shards' logs reach the new controller's output (followed from DIR/logs/).
    expect((await login()).status).toBe(200);
    await expect
      .poll(() => controller.logLines.some((line) => line.shard_id === alphaShard.shard_id), {
        timeout: 5_000,
      })
      .toBe(true);
    // It moves the tenant as it would its own shards' tenants.
    expect((await controller.api('POST', '/tenants/alpha.localhost/move', {})).status).toBe(200);

    // An adopted shard that dies is noticed and started again.
    process.kill(pids[0]!, 'SIGKILL');
    await expect
      .poll(
        async () => {
          const shards = (await controller.api('GET', '/shards')).body.shards as ShardInfo[];
          const pid = shards.find((shard) => shard.shard_id === before[0]!.shard_id)?.pid;
          if (typeof pid === 'number' && pid !== pids[0]) shardPids.push(pid);
          return typeof pid === 'number' && pid !== pids[0];
        },
        { timeout: 60_000, interval: 500 },
      )
      .toBe(true);

    // A clean stop stops them all.
    const last = ((await controller.api('GET', '/shards')).body.shards as ShardInfo[]).map(
      (shard) => shard.pid as number,
    );
    shardPids.push(...last);
    expect(await controller.stop()).toBe(0);
    expect(await waitUntilGone(last, GONE_WITHIN_MS)).toEqual([]);
  }, 180_000);

  it('keep serving when the controller stops with --leave-shards-running, until `marina up` stops them', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'marina-leave-shards-'));
    dirs.push(dataDir);
    let controller = await startController(dataDir, ['--leave-shards-running']);
    const before = (await controller.api('GET', '/shards')).body.shards as ShardInfo[];
    shardPids.push(...before.map((shard) => shard.pid as number));
    expect(await controller.stop('SIGTERM')).toBe(0);
    expect(controller.logLines.some((line) => String(line.msg).includes('keep running'))).toBe(
      true,
    );
    expect(await running(before[0]!.pid as number)).toBe(true);

    controller = await startController(dataDir);
    const after = (await controller.api('GET', '/shards')).body.shards as ShardInfo[];
    expect(after.map((shard) => shard.pid)).toEqual(before.map((shard) => shard.pid));

    // `marina up` does not adopt (its shards die with it): it stops shards left running.
    await controller.stop('SIGKILL');
    const marina = await startMarina(['up', '--data-dir', dataDir, '--listen', '127.0.0.1:0']);
    expect(await waitUntilGone([before[0]!.pid as number], GONE_WITHIN_MS)).toEqual([]);
    expect((await fetch(`${marina.url}/_matrix/client/v3/login`)).status).toBe(200);
    const upShards = (await (await controllerAdmin(dataDir))('GET', '/shards')).body
      .shards as ShardInfo[];
    shardPids.push(...upShards.map((shard) => shard.pid as number));
    expect(await marina.stop()).toBe(0);
  }, 150_000);

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
