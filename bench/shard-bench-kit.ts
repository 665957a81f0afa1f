/**
 * What the shard benchmarks (density, fairness) share: a real `marina shard` process, tenants
 * made as the controller makes them (a folder from LocalTenantStore, its config pushed with
 * `PUT /_marina/shard/v1/tenants/:serverName`), Matrix calls by Host with node:http and
 * keep-alive, users from shared-secret registration, the shard's RSS from /proc, percentiles.
 */
import { createHmac } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { cpus, loadavg, totalmem } from 'node:os';
import type { TenantConfig } from '../src/services/tenant-config.js';
import { startShard, type ShardProcess } from '../test/helpers/shard-process.js';

export { freePort } from '../test/helpers/free-port.js';

export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface MatrixResult {
  status: number;
  body: Json;
}

/** Thrown for an answer other than 200 (the body is kept for the caller to inspect). */
export class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    what: string,
  ) {
    super(`${what}: ${status} ${body}`);
  }
}

/**
 * A client of one shard's traffic port. node:http with keep-alive rather than fetch: fetch
 * cannot set Host, and adds ~0.4 ms of client work to every request.
 */
export class ShardClient {
  readonly #port: number;
  readonly #agent: Agent;

  constructor(trafficUrl: string, maxSockets = Infinity) {
    this.#port = Number(new URL(trafficUrl).port);
    this.#agent = new Agent({ keepAlive: true, maxSockets });
  }

  /** One request to the tenant served at `host`; resolves with any status. */
  raw(host: string, method: string, path: string, token?: string, body?: unknown) {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<MatrixResult>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: this.#port,
          method,
          path,
          agent: this.#agent,
          headers: {
            Host: host,
            ...(token ? { Authorization: `Bearer ${token}` } : {}),
            ...(payload === undefined
              ? {}
              : {
                  'Content-Type': 'application/json',
                  'Content-Length': Buffer.byteLength(payload),
                }),
          },
        },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () => {
            let json: Json;
            try {
              json = JSON.parse(text) as Json;
            } catch {
              json = { text };
            }
            resolve({ status: response.statusCode ?? 0, body: json });
          });
          response.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** One request that must answer 200; resolves with the JSON body. */
  async call(host: string, method: string, path: string, token?: string, body?: unknown) {
    const result = await this.raw(host, method, path, token, body);
    if (result.status !== 200) {
      throw new HttpStatusError(
        result.status,
        JSON.stringify(result.body),
        `${host} ${method} ${path}`,
      );
    }
    return result.body;
  }

  /** Registers a user with shared-secret registration (production scrypt); its access token. */
  async register(host: string, secret: string, username: string): Promise<string> {
    const { nonce } = await this.call(host, 'GET', '/_synapse/admin/v1/register');
    const password = `${username}-password`;
    const mac = createHmac('sha1', secret)
      .update(`${nonce}\0${username}\0${password}\0notadmin`)
      .digest('hex');
    const registered = await this.call(host, 'POST', '/_synapse/admin/v1/register', undefined, {
      nonce,
      username,
      password,
      mac,
      admin: false,
    });
    return registered.access_token as string;
  }

  close(): void {
    this.#agent.destroy();
  }
}

/**
 * Starts `marina shard` on `dataDir` (warn-level logs, so that the shard does not spend its time
 * logging every request and this process does not keep megabytes of them).
 */
export function startBenchShard(dataDir: string, extraArgs: string[] = []): Promise<ShardProcess> {
  process.env.MARINA_LOG_LEVEL ??= 'warn';
  return startShard(['--data-dir', dataDir, ...extraArgs], 60_000);
}

/** Hands a tenant to the shard, as the controller does (it is not started until a request). */
export async function pushTenant(shard: ShardProcess, config: TenantConfig): Promise<void> {
  const result = await shard.admin('PUT', `/_marina/shard/v1/tenants/${config.server_name}`, {
    body: { config },
  });
  if (result.status !== 200) {
    throw new Error(`PUT tenant ${config.server_name}: ${result.status} ${result.text}`);
  }
}

export async function hibernateTenant(shard: ShardProcess, serverName: string): Promise<void> {
  const result = await shard.admin('POST', `/_marina/shard/v1/tenants/${serverName}/hibernate`);
  if (result.status !== 200) {
    throw new Error(`hibernate ${serverName}: ${result.status} ${result.text}`);
  }
}

/** Counts the shard's tenants by state, from `GET /status`. */
export async function tenantStates(shard: ShardProcess): Promise<Record<string, number>> {
  const result = await shard.admin('GET', '/_marina/shard/v1/status');
  const counts: Record<string, number> = {};
  for (const tenant of (result.body as Json).tenants as { state: string }[]) {
    counts[tenant.state] = (counts[tenant.state] ?? 0) + 1;
  }
  return counts;
}

export interface Memory {
  /** VmRSS: resident set size, MB. */
  rssMb: number;
  /** RssAnon (heap, stacks: what the process allocated), MB. */
  anonMb: number;
  /** RssFile (mapped files: code, shared libraries), MB. */
  fileMb: number;
  /** VmHWM: the peak RSS so far, MB. */
  peakMb: number;
  /** Open file descriptors (an awake SQLite tenant holds a few). */
  fds: number;
}

/** A process's memory from /proc/<pid>/status, and its open files (Linux). */
export async function memoryOf(pid: number): Promise<Memory> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
    return Number(match[1]) / 1024;
  };
  return {
    rssMb: kb('VmRSS'),
    anonMb: kb('RssAnon'),
    fileMb: kb('RssFile'),
    peakMb: kb('VmHWM'),
    fds: (await readdir(`/proc/${pid}/fd`)).length,
  };
}

/** The shard's JS heap in use (prom-client's `nodejs_heap_size_used_bytes`), MB. */
export async function heapUsedMb(shard: ShardProcess): Promise<number> {
  const { text } = await shard.admin('GET', '/metrics', { token: null });
  const match = /^nodejs_heap_size_used_bytes (\S+)$/m.exec(text);
  return match ? Number(match[1]) / 2 ** 20 : NaN;
}

/**
 * The shard's memory once it has been quiet for `settleMs` (V8 finishes pending GC work when
 * idle; nothing here can force a collection in the shard process).
 */
export async function settledMemory(
  shard: ShardProcess,
  settleMs = 3_000,
): Promise<Memory & { heapMb: number }> {
  await sleep(settleMs);
  const pid = shard.child.pid as number;
  return { ...(await memoryOf(pid)), heapMb: await heapUsedMb(shard) };
}

export function formatMemory(memory: Memory & { heapMb?: number }): string {
  return (
    `RSS ${memory.rssMb.toFixed(1)} MB (anon ${memory.anonMb.toFixed(1)}, file ${memory.fileMb.toFixed(1)}` +
    (memory.heapMb === undefined ? '' : `, JS heap used ${memory.heapMb.toFixed(1)}`) +
    `; peak ${memory.peakMb.toFixed(1)}; ${memory.fds} open files)`
  );
}

/** The p-quantile (0–1) of ascending samples (nearest rank below). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number;
}

export function latencySummary(samples: readonly number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const ms = (p: number) => `${percentile(sorted, p).toFixed(2)} ms`;
  return `p50 ${ms(0.5)}, p90 ${ms(0.9)}, p99 ${ms(0.99)}, max ${ms(1)} (n = ${sorted.length})`;
}

/** Runs `work` over `items`, at most `concurrency` at once, in order of start. */
export async function forEachLimited<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Reads a positive integer from the environment. */
export function envInteger(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
}

/** The machine, for the figures' caption. */
export function describeMachine(): string {
  const cpu = cpus();
  const load = loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');
  return (
    `${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GB, ` +
    `Node ${process.version}, load average ${load}`
  );
}

export type { ShardProcess };
