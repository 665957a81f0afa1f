import { setTimeout as sleep } from 'node:timers/promises';
import { ShardAdminClient } from './shard-admin-client.js';
import type { RunningShard, ShardExit } from './shard-process.js';

/**
 * A shard process an earlier controller started and that outlived it: this controller did not
 * start it, so it learns of its exit by watching, not from the operating system. It takes the
 * shard for gone when the process is gone, or when its admin API has not answered for
 * `UNANSWERED_LIMIT` checks in a row (a hung shard, which it then kills).
 */

export interface AdoptableShard {
  readonly shardId: string;
  readonly pid: number;
  readonly adminUrl: string;
  readonly trafficUrl: string;
  readonly token: string;
}

const CHECK_EVERY_MS = 1_000;
const UNANSWERED_LIMIT = 3;

/**
 * Adopts the shard if its process lives and its admin API answers to its token as that
 * shard; undefined otherwise (the caller starts a new one in its place).
 */
export async function adoptShard(shard: AdoptableShard): Promise<RunningShard | undefined> {
  if (!processAlive(shard.pid)) return undefined;
  const client = new ShardAdminClient(shard.adminUrl, shard.token);
  const status = await client.status(3_000).catch(() => undefined);
  if (status?.shard_id !== shard.shardId) return undefined;

  let resolveExit!: (exit: ShardExit) => void;
  const exited = new Promise<ShardExit>((resolve) => (resolveExit = resolve));
  let gone = false;
  const watching = new AbortController();
  void (async () => {
    let unanswered = 0;
    while (!watching.signal.aborted) {
      await sleep(CHECK_EVERY_MS, undefined, { signal: watching.signal }).catch(() => {});
      if (watching.signal.aborted) break;
      if (!processAlive(shard.pid)) break;
      const answered = await client.status(2_000).then(
        () => true,
        () => false,
      );
      unanswered = answered ? 0 : unanswered + 1;
      if (unanswered >= UNANSWERED_LIMIT) {
        signal(shard.pid, 'SIGKILL');
        break;
      }
    }
    gone = true;
    resolveExit({ code: null, signal: null });
  })();

  const stop = async (timeoutMs: number): Promise<ShardExit> => {
    if (!gone) {
      signal(shard.pid, 'SIGTERM');
      const deadline = Date.now() + timeoutMs;
      while (processAlive(shard.pid) && Date.now() < deadline) await sleep(100);
      if (processAlive(shard.pid)) signal(shard.pid, 'SIGKILL');
      watching.abort();
    }
    return exited;
  };

  return {
    shardId: shard.shardId,
    pid: shard.pid,
    trafficUrl: shard.trafficUrl,
    adminUrl: shard.adminUrl,
    token: shard.token,
    startedAt: Date.now(),
    exited,
    stop,
    kill: () => signal(shard.pid, 'SIGKILL'),
  };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it lives, under another user (not ours to adopt, but alive).
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // gone already
  }
}
