import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const MARINA_BIN = fileURLToPath(new URL('../../bin/marina.js', import.meta.url));

export interface MarinaProcess {
  readonly child: ChildProcess;
  /** The address it listens at, from the "serving" log line (`http://127.0.0.1:PORT`). */
  readonly url: string;
  /** Every JSON log line printed so far. */
  readonly logLines: Record<string, unknown>[];
  /** Sends a signal and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StartMarinaOptions {
  /** Added to the environment (e.g. `MARINA_LOG_LEVEL`). */
  readonly env?: Record<string, string>;
  /**
   * The port it was told to listen at on 127.0.0.1: it is ready once `/health` answers there,
   * rather than once it logs its "serving" line (which a `warn` log level leaves out).
   */
  readonly port?: number;
}

/** Runs the real `marina` command with the given arguments; waits until it serves. */
export async function startMarina(
  args: string[],
  timeoutMs = 30_000,
  options: StartMarinaOptions = {},
): Promise<MarinaProcess> {
  const child = spawn(process.execPath, [MARINA_BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  const logLines: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`marina did not start in ${timeoutMs} ms: ${stderr}`)),
      timeoutMs,
    );
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let newline: number;
      while ((newline = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logLines.push(entry);
          if (typeof entry.listening === 'string' && String(entry.msg).startsWith('serving')) {
            clearTimeout(timer);
            resolve(entry.listening);
          }
        } catch {
          // not a log line
        }
      }
    });
    void exited.then(([code]) => {
      clearTimeout(timer);
      reject(new Error(`marina exited with ${code} before serving: ${stderr}`));
    });
    if (options.port !== undefined) {
      const url = `http://127.0.0.1:${options.port}`;
      const deadline = Date.now() + timeoutMs;
      void untilHealthy(url, () => child.exitCode === null && Date.now() < deadline).then(
        (healthy) => {
          clearTimeout(timer);
          if (healthy) resolve(url);
        },
      );
    }
  });

  return {
    child,
    url,
    logLines,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      const [code] = await exited;
      return code;
    },
  };
}

/**
 * Runs `marina` to completion and returns its exit code and output. Its standard input is a pipe
 * (never a terminal) holding `stdin`, or nothing.
 */
export async function runMarina(
  args: string[],
  options: { stdin?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [MARINA_BIN, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  // A command may exit without reading its input (EPIPE): that is its business, not an error.
  child.stdin.on('error', () => {});
  child.stdin.end(options.stdin ?? '');
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

/** Polls `url/health` until it answers 200 (true) or `alive` turns false (false). */
async function untilHealthy(url: string, alive: () => boolean): Promise<boolean> {
  while (alive()) {
    try {
      if ((await fetch(`${url}/health`)).ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}
