import { spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/**
 * One `marina shard` child process: started with its own admin token, ready once it prints its
 * `shard-ready` JSON line (both listeners up), stopped with SIGTERM, then SIGKILL if it lingers.
 */

const MARINA_BIN = fileURLToPath(new URL('../../bin/marina.js', import.meta.url));
/** Lines of output kept to explain a shard that failed to start. */
const TAIL_LINES = 20;

/** Where a shard's own output goes, line by line (its log lines are JSON already). */
export interface ShardOutput {
  stdout(line: string): void;
  stderr(line: string): void;
}

export interface ShardExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface ShardLaunch {
  readonly shardId: string;
  readonly dataDir: string;
  /** The bearer token of the shard's admin API (MARINA_SHARD_TOKEN). */
  readonly token: string;
  readonly readyTimeoutMs: number;
  readonly output: ShardOutput;
  /** More `marina shard` arguments (e.g. `--idle-hibernate-ms`). */
  readonly extraArgs?: readonly string[];
  /** Aborting kills a shard that is not ready yet. */
  readonly signal?: AbortSignal;
  /**
   * A shard that may outlive this controller: its standard error (its logs) goes to this file,
   * appended, and it does not stop when this process dies (no `--stop-when-stdin-closes`).
   * Without it, its output comes through pipes and it stops with this process.
   */
  readonly logFile?: string;
}

export interface RunningShard {
  readonly shardId: string;
  readonly pid: number;
  readonly trafficUrl: string;
  readonly adminUrl: string;
  readonly token: string;
  readonly startedAt: number;
  /** Settles when the process exits, for whatever reason. */
  readonly exited: Promise<ShardExit>;
  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves once the process is gone. */
  stop(timeoutMs: number): Promise<ShardExit>;
  /** SIGKILL now, without waiting. */
  kill(): void;
}

interface ReadyLine {
  event: 'shard-ready';
  shard_id?: unknown;
  traffic_url: string;
  admin_url: string;
}

/** Starts a shard and resolves when it is ready; rejects (with its last output) otherwise. */
export async function launchShard(launch: ShardLaunch): Promise<RunningShard> {
  const args = [
    MARINA_BIN,
    'shard',
    '--data-dir',
    launch.dataDir,
    '--shard-id',
    launch.shardId,
    '--listen',
    '127.0.0.1:0',
    '--admin-listen',
    '127.0.0.1:0',
    // Unless it may outlive us, the shard stops by itself when this process dies, however it
    // dies (its stdin closes).
    ...(launch.logFile === undefined ? ['--stop-when-stdin-closes'] : []),
    ...(launch.extraArgs ?? []),
  ];
  const logFd = launch.logFile === undefined ? undefined : openSync(launch.logFile, 'a', 0o600);
  /** Where this launch's output begins in the log file (to explain a failed start). */
  const logStart = logFd === undefined ? 0 : fstatSync(logFd).size;
  const child = spawn(process.execPath, args, {
    env: {
      // glibc's malloc raises its mmap threshold each time a large block is freed, and from then
      // on keeps blocks of that size (media upload parts, large responses) in its heap after
      // use: a fixed threshold hands them back to the system at once. An operator's own
      // setting wins.
      MALLOC_MMAP_THRESHOLD_: String(128 * 1024),
      ...process.env,
      MARINA_SHARD_TOKEN: launch.token,
    },
    // stdin stays an open pipe the shard may watch: it closes when the controller dies.
    stdio: logFd === undefined ? ['pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', logFd],
    // Its own process group: a terminal's Ctrl-C reaches the controller, which stops the
    // shards in order, rather than every process at once.
    detached: true,
  });
  // The child holds its own copy of the file.
  if (logFd !== undefined) closeSync(logFd);
  const exited = new Promise<ShardExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => {
      if (child.pid === undefined) resolve({ code: null, signal: null });
    });
  });
  const tail: string[] = [];
  const remember = (line: string) => {
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
  };

  let onReady: ((line: ReadyLine) => void) | undefined;
  const readyLine = new Promise<ReadyLine>((resolve) => (onReady = resolve));
  createInterface({ input: child.stdout as Readable, crlfDelay: Infinity }).on('line', (line) => {
    const ready = onReady !== undefined ? parseReadyLine(line) : undefined;
    if (ready !== undefined && onReady !== undefined) {
      onReady(ready);
      onReady = undefined;
      return;
    }
    remember(line);
    launch.output.stdout(line);
  });
  if (child.stderr !== null) {
    createInterface({ input: child.stderr, crlfDelay: Infinity }).on('line', (line) => {
      remember(line);
      launch.output.stderr(line);
    });
  }
  child.stdin?.on('error', () => {});

  const stop = async (timeoutMs: number): Promise<ShardExit> => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    }
    return exited;
  };

  const explain = (what: string) => {
    const lines = [...tail, ...logLinesSince(launch.logFile, logStart)].slice(-TAIL_LINES);
    return new Error(
      `shard ${launch.shardId} ${what}` +
        (lines.length > 0 ? `; its last output:\n  ${lines.join('\n  ')}` : ''),
    );
  };
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    const ready = await Promise.race([
      readyLine,
      once(child, 'error').then(([error]) => {
        throw explain(`could not be started: ${(error as Error).message}`);
      }),
      exited.then((exit) => {
        throw explain(`exited (${describeExit(exit)}) before it was ready`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              explain(
                `printed no shard-ready line within ${launch.readyTimeoutMs} ms and was killed`,
              ),
            ),
          launch.readyTimeoutMs,
        );
      }),
      new Promise<never>((_, reject) => {
        onAbort = () => reject(explain('was stopped before it was ready'));
        if (launch.signal?.aborted) onAbort();
        else launch.signal?.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
    return {
      shardId: launch.shardId,
      pid: child.pid as number,
      trafficUrl: ready.traffic_url,
      adminUrl: ready.admin_url,
      token: launch.token,
      startedAt: Date.now(),
      exited,
      stop,
      kill: () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      },
    };
  } catch (error) {
    await stop(1_000);
    throw error;
  } finally {
    clearTimeout(timer);
    if (onAbort !== undefined) launch.signal?.removeEventListener('abort', onAbort);
  }
}

/** The last lines written to a log file from `offset` on (at most 64 KiB of it). */
function logLinesSince(file: string | undefined, offset: number): string[] {
  if (file === undefined) return [];
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const end = fstatSync(fd).size;
    const start = Math.max(offset, end - 64 * 1024);
    const buffer = Buffer.alloc(end - start);
    readSync(fd, buffer, 0, buffer.length, start);
    return buffer
      .toString('utf8')
      .split('\n')
      .filter((line) => line !== '')
      .slice(-TAIL_LINES);
  } catch {
    return [];
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function describeExit(exit: ShardExit): string {
  return exit.signal !== null ? `signal ${exit.signal}` : `code ${exit.code}`;
}

function parseReadyLine(line: string): ReadyLine | undefined {
  if (!line.includes('shard-ready')) return undefined;
  try {
    const parsed = JSON.parse(line) as Partial<ReadyLine>;
    if (
      parsed.event === 'shard-ready' &&
      typeof parsed.traffic_url === 'string' &&
      typeof parsed.admin_url === 'string'
    ) {
      return parsed as ReadyLine;
    }
  } catch {
    // a log line that mentions shard-ready
  }
  return undefined;
}
