import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const MARINA_BIN = fileURLToPath(new URL('../../bin/marina.js', import.meta.url));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

export interface ControllerProcess {
  readonly child: ChildProcess;
  /** The admin API's base URL, from the "controller ready" line. */
  readonly url: string;
  readonly token: string;
  /** Every JSON line of its standard output and error so far (its own logs and its shards'). */
  readonly logLines: Record<string, unknown>[];
  /** Calls the admin API (`path` under `/_marina/controller/v1`) with the admin token. */
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }>;
  /** Sends a signal and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Runs the real `marina controller` on `dataDir`; resolves once it says it is ready. */
export async function startController(
  dataDir: string,
  args: string[] = [],
  timeoutMs = 90_000,
): Promise<ControllerProcess> {
  const child = spawn(
    process.execPath,
    [MARINA_BIN, 'controller', '--data-dir', dataDir, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MARINA_LOG_FORMAT: 'json' } },
  );
  const logLines: Record<string, unknown>[] = [];
  const text: string[] = [];
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  let onReady: ((url: string) => void) | undefined;
  const ready = new Promise<string>((resolve) => (onReady = resolve));
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      text.push(line);
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logLines.push(entry);
        if (entry.msg === 'controller ready' && typeof entry.url === 'string') onReady?.(entry.url);
      } catch {
        // not a JSON line
      }
    });
  }
  let timer: NodeJS.Timeout | undefined;
  const url = await Promise.race([
    ready,
    exited.then(([code]) => {
      throw new Error(
        `marina controller exited with ${code} before it was ready:\n${text.join('\n')}`,
      );
    }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`marina controller not ready in ${timeoutMs} ms:\n${text.join('\n')}`));
      }, timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
  const token = (await readFile(join(dataDir, 'controller', 'admin-token'), 'utf8')).trim();

  return {
    child,
    url,
    token,
    logLines,
    async api(method, path, body) {
      const response = await fetch(`${url}/_marina/controller/v1${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${token}`,
          ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
      return { status: response.status, body: await response.json() };
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      const [code] = await exited;
      return code;
    },
  };
}
