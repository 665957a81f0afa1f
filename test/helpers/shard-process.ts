import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';

const MARINA_BIN = fileURLToPath(new URL('../../bin/marina.js', import.meta.url));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  body: Json;
}

/** A real `marina shard` process, as the controller runs it. */
export interface ShardProcess {
  readonly child: ChildProcess;
  readonly shardId: string;
  readonly token: string;
  readonly trafficUrl: string;
  readonly adminUrl: string;
  /** Standard error so far (the shard's logs). */
  stderr(): string;
  /** Calls the admin API (with the token unless `token: null`). */
  admin(
    method: string,
    path: string,
    options?: { body?: unknown; token?: string | null },
  ): Promise<HttpResult>;
  /** Calls the traffic listener with the given Host header. */
  call(
    host: string,
    method: string,
    path: string,
    options?: { body?: unknown; token?: string },
  ): Promise<HttpResult>;
  /** Sends a signal and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Runs `marina shard` with a fresh token and waits for its `shard-ready` line. */
export async function startShard(
  extraArgs: string[] = [],
  timeoutMs = 30_000,
  /** Added to the shard's environment. */
  env: Record<string, string> = {},
): Promise<ShardProcess> {
  const shardId = `shard-${randomBytes(3).toString('hex')}`;
  const token = randomBytes(24).toString('base64url');
  const child = spawn(
    process.execPath,
    [MARINA_BIN, 'shard', '--shard-id', shardId, ...extraArgs],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env, MARINA_SHARD_TOKEN: token },
    },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;

  const ready = await new Promise<Record<string, string>>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`marina shard was not ready in ${timeoutMs} ms: ${stderr}`)),
      timeoutMs,
    );
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let newline: number;
      while ((newline = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        let entry: Record<string, string>;
        try {
          entry = JSON.parse(line) as Record<string, string>;
        } catch {
          continue; // the controller ignores anything but the ready line
        }
        if (entry.event === 'shard-ready') {
          clearTimeout(timer);
          resolve(entry);
        }
      }
    });
    void exited.then(([code]) => {
      clearTimeout(timer);
      reject(new Error(`marina shard exited with ${code} before it was ready: ${stderr}`));
    });
  });

  const adminUrl = ready.admin_url as string;
  const trafficUrl = ready.traffic_url as string;
  return {
    child,
    shardId,
    token,
    adminUrl,
    trafficUrl,
    stderr: () => stderr,
    admin: (method, path, options = {}) => {
      const bearer = options.token === undefined ? token : options.token;
      return httpCall(adminUrl, method, path, {
        body: options.body,
        headers: bearer === null ? {} : { Authorization: `Bearer ${bearer}` },
      });
    },
    call: (host, method, path, options = {}) =>
      httpCall(trafficUrl, method, path, {
        body: options.body,
        headers: {
          Host: host,
          ...(options.token ? { Authorization: `Bearer ${options.token}` } : {}),
        },
      }),
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      const [code] = await exited;
      return code;
    },
  };
}

/** One HTTP request with node:http (fetch cannot set the Host header). */
export function httpCall(
  baseUrl: string,
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<HttpResult> {
  const url = new URL(path, baseUrl);
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        hostname: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method,
        headers: {
          ...(payload === undefined ? {} : { 'Content-Type': 'application/json' }),
          ...options.headers,
        },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => {
          let body: Json;
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
