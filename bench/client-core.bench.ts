/**
 * The client-server core against a real `marina up` (SQLite): a sequential send loop,
 * incremental /sync after one new message, and long-poll wake-up (Bob waits in /sync, Alice
 * sends, Bob's /sync returns). Measured twice: against the shard process that hosts the tenant
 * (the homeserver itself, `Host: localhost`), then through the router as clients reach it.
 * The client is this process; the servers are child processes.
 * Run: npx tsx bench/client-core.bench.ts
 * MARINA_BENCH_WARM_UP: send + sync pairs before measuring (default 2000).
 * Profile the server: MARINA_BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' npx tsx …
 * (MARINA_BENCH_SENDS raises the number of measured sends, for a longer profile.)
 */
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { Agent, request } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './shard-bench-kit.js';

const SENDS = Number(process.env.MARINA_BENCH_SENDS ?? 200);
const SYNCS = 200;
const WAKEUPS = 100;
/**
 * Sends and incremental syncs before measuring, so that the servers (and this client) run the
 * optimised code a long-running homeserver runs: V8 keeps re-compiling hot functions for the
 * first thousand or so requests (on background threads that compete for the 2 cores), and sends
 * are ~40% slower until it is done.
 */
const WARM_UP = Number(process.env.MARINA_BENCH_WARM_UP ?? 2000);

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

function summary(label: string, samples: number[]): void {
  const sorted = [...samples].sort((a, b) => a - b);
  console.log(
    `${label.padEnd(40)} p50 ${percentile(sorted, 0.5).toFixed(2)} ms, p95 ${percentile(sorted, 0.95).toFixed(2)} ms, p99 ${percentile(sorted, 0.99).toFixed(2)} ms`,
  );
}

const dataDir = await mkdtemp(join(tmpdir(), 'marina-bench-core-'));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const child = spawn(
  process.execPath,
  [
    ...(process.env.MARINA_BENCH_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== ''),
    fileURLToPath(new URL('../bin/marina.js', import.meta.url)),
    'up',
    '--data-dir',
    dataDir,
    '--listen',
    `127.0.0.1:${port}`,
  ],
  { stdio: 'ignore', env: { ...process.env, MARINA_LOG_LEVEL: 'warn' } },
);

// node:http with keep-alive: Node's fetch adds ~0.4 ms of client-side work to every request,
// which would be measured as server latency.
const agent = new Agent({ keepAlive: true });

/** Where requests go: the router (`marina up`'s --listen) or the shard's traffic port. */
let target = { port, host: `127.0.0.1:${port}` };

function call(method: string, path: string, token?: string, body?: unknown): Promise<Json> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: target.port,
        method,
        path,
        agent,
        headers: {
          Host: target.host,
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
          ...(payload === undefined
            ? {}
            : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) }),
        },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => {
          const json = JSON.parse(text) as Json;
          if (response.statusCode !== 200) {
            reject(new Error(`${method} ${path}: ${response.statusCode} ${text}`));
          } else resolve(json);
        });
        response.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function register(secret: string, username: string): Promise<string> {
  const { nonce } = await call('GET', '/_synapse/admin/v1/register');
  const password = `${username}-password`;
  const mac = createHmac('sha1', secret)
    .update(`${nonce}\0${username}\0${password}\0notadmin`)
    .digest('hex');
  const registered = await call('POST', '/_synapse/admin/v1/register', undefined, {
    nonce,
    username,
    password,
    mac,
    admin: false,
  });
  return registered.access_token as string;
}

try {
  for (let i = 0; ; i += 1) {
    if (i > 200) throw new Error('marina up did not start');
    try {
      if ((await fetch(`${base}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const settings = JSON.parse(
    await readFile(join(dataDir, 'tenants/localhost/tenant.json'), 'utf8'),
  ) as Json;
  const alice = await register(settings.registration_shared_secret, 'alice');
  const bob = await register(settings.registration_shared_secret, 'bob');
  const { room_id: roomId } = await call('POST', '/_matrix/client/v3/createRoom', alice, {
    preset: 'public_chat',
  });
  const room = encodeURIComponent(roomId as string);
  await call('POST', `/_matrix/client/v3/join/${room}`, bob, {});
  let txn = 0;
  const send = (text: string) =>
    call('PUT', `/_matrix/client/v3/rooms/${room}/send/m.room.message/b${++txn}`, alice, {
      msgtype: 'm.text',
      body: text,
    });

  /** The three measurements against the current target. */
  async function measure(label: string): Promise<void> {
    console.log(`\n${label}`);
    let warmSince = (await call('GET', '/_matrix/client/v3/sync', bob)).next_batch as string;
    for (let i = 0; i < WARM_UP; i += 1) {
      await send(`warm-up ${i}`);
      const path = `/_matrix/client/v3/sync?since=${warmSince}&timeout=0`;
      warmSince = (await call('GET', path, bob)).next_batch as string;
    }
    const sendTimes: number[] = [];
    const loopStart = performance.now();
    for (let i = 0; i < SENDS; i += 1) {
      const start = performance.now();
      await send(`message ${i}`);
      sendTimes.push(performance.now() - start);
    }
    const loopSeconds = (performance.now() - loopStart) / 1000;
    summary(`send (${SENDS} sequential)`, sendTimes);
    console.log(`${'sequential sends per second'.padEnd(40)} ${Math.round(SENDS / loopSeconds)}`);

    let since = (await call('GET', '/_matrix/client/v3/sync', bob)).next_batch as string;
    const syncTimes: number[] = [];
    for (let i = 0; i < SYNCS; i += 1) {
      await send(`sync ${i}`);
      const start = performance.now();
      const body = await call('GET', `/_matrix/client/v3/sync?since=${since}&timeout=0`, bob);
      syncTimes.push(performance.now() - start);
      if (body.rooms?.join?.[roomId]?.timeline?.events?.length !== 1)
        throw new Error('incremental sync missed the event');
      since = body.next_batch;
    }
    summary('incremental /sync after one message', syncTimes);

    const wakeFromSent: number[] = [];
    const wakeFromSendStart: number[] = [];
    for (let i = 0; i < WAKEUPS; i += 1) {
      const waiting = call('GET', `/_matrix/client/v3/sync?since=${since}&timeout=30000`, bob).then(
        (body) => ({ body, at: performance.now() }),
      );
      await new Promise((resolve) => setTimeout(resolve, 20));
      const sendStart = performance.now();
      await send(`wake ${i}`);
      const sent = performance.now();
      const { body, at } = await waiting;
      if (body.rooms?.join?.[roomId]?.timeline?.events?.length !== 1)
        throw new Error('long-poll missed the event');
      wakeFromSent.push(at - sent);
      wakeFromSendStart.push(at - sendStart);
      since = body.next_batch;
    }
    summary('long-poll wake-up (after send returned)', wakeFromSent);
    summary('long-poll wake-up (from send start)', wakeFromSendStart);
  }

  // The shard that hosts localhost, from the controller's admin API.
  const controllerDir = join(dataDir, 'controller');
  const controllerUrl = (
    JSON.parse(await readFile(join(controllerDir, 'controller.json'), 'utf8')) as Json
  ).url as string;
  const adminToken = (await readFile(join(controllerDir, 'admin-token'), 'utf8')).trim();
  const shards = (await (
    await fetch(`${controllerUrl}/_marina/controller/v1/shards`, {
      headers: { Authorization: `Bearer ${adminToken}` },
    })
  ).json()) as Json;
  const shardPort = Number(new URL(shards.shards[0].traffic_url as string).port);

  const routerTarget = target;
  target = { port: shardPort, host: 'localhost' };
  await measure('the shard (the homeserver itself, Host: localhost)');
  target = routerTarget;
  await measure('through the router (marina up --listen)');
} finally {
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  await rm(dataDir, { recursive: true, force: true });
}
