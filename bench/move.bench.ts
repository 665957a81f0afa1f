/**
 * Tenant moves (issue 5): how long `POST /_marina/controller/v1/tenants/:name/move` takes on a
 * real `marina up --shards 2` (SQLite, warn-level logs), as the controller reports it
 * (`duration_ms`: from "moving" to the router released) and as the admin call's wall clock.
 * Three cases:
 *   - idle tenants, asleep: never started on their shard since the last move;
 *   - idle tenants, awake: one request just before each move, so the old shard has the
 *     tenant's databases open and closes them;
 *   - a tenant under steady load: three hand-written clients and one matrix-js-sdk client
 *     sending and syncing (test/helpers/steady-clients.ts); also the clients' send latency
 *     across the run (a send held by the router during a move waits for it) and whether any
 *     request failed or any message was lost (the proof's checker).
 * The issue's target: an idle tenant's move ≤ 1 s at p99.
 *
 * Run: npx tsx bench/move.bench.ts
 *   MARINA_BENCH_IDLE_MOVES    moves per idle case (default 50)
 *   MARINA_BENCH_IDLE_TENANTS  idle tenants the moves go round (default 5)
 *   MARINA_BENCH_LOAD_MOVES    moves of the loaded tenant (default 20)
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { controllerAdmin, type ControllerAdmin } from '../test/helpers/controller-admin.js';
import { localhostFetch } from '../test/helpers/localhost-fetch.js';
import {
  checkSteadyReport,
  startSteadyClients,
  summarizeSteadyReport,
} from '../test/helpers/steady-clients.js';
import { describeMachine, envInteger, freePort, percentile, sleep } from './shard-bench-kit.js';

const IDLE_MOVES = envInteger('MARINA_BENCH_IDLE_MOVES', 50);
const IDLE_TENANTS = envInteger('MARINA_BENCH_IDLE_TENANTS', 5);
const LOAD_MOVES = envInteger('MARINA_BENCH_LOAD_MOVES', 20);
const SHARDS = ['shard-0', 'shard-1'] as const;
const LOADED = 'loaded.localhost';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface MoveSample {
  /** The controller's `duration_ms`. */
  controllerMs: number;
  /** The admin call, as this process saw it. */
  wallMs: number;
}

/** Polls until `check` holds (it may throw meanwhile: not ready yet). */
async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${what}: not in ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** Moves `serverName` to the other shard; the two durations. */
async function move(admin: ControllerAdmin, serverName: string): Promise<MoveSample> {
  const { tenants } = (await admin('GET', '/tenants')).body as { tenants: Json[] };
  const from = tenants.find((tenant) => tenant.server_name === serverName)?.shard_id;
  const to = from === SHARDS[0] ? SHARDS[1] : SHARDS[0];
  const started = performance.now();
  const result = await admin('POST', `/tenants/${serverName}/move`, { to });
  const wallMs = performance.now() - started;
  if (result.status !== 200) {
    throw new Error(`move ${serverName} → ${to}: ${result.status} ${JSON.stringify(result.body)}`);
  }
  return { controllerMs: result.body.duration_ms as number, wallMs };
}

function row(label: string, values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const ms = (p: number) => `${percentile(sorted, p).toFixed(0)} ms`.padStart(9);
  return `| ${label.padEnd(46)} | ${String(sorted.length).padStart(5)} | ${ms(0.5)} | ${ms(0.9)} | ${ms(0.99)} | ${ms(1)} |`;
}

function printMoves(label: string, samples: MoveSample[]): void {
  console.log(
    row(
      `${label}: duration_ms`,
      samples.map((s) => s.controllerMs),
    ),
  );
  console.log(
    row(
      `${label}: admin call`,
      samples.map((s) => s.wallMs),
    ),
  );
}

const dataDir = await mkdtemp(join(tmpdir(), 'marina-bench-move-'));
const port = await freePort();
const child = spawn(
  process.execPath,
  [
    fileURLToPath(new URL('../bin/marina.js', import.meta.url)),
    'up',
    '--data-dir',
    dataDir,
    '--listen',
    `127.0.0.1:${port}`,
    '--shards',
    String(SHARDS.length),
  ],
  { stdio: 'ignore', env: { ...process.env, MARINA_LOG_LEVEL: 'warn' } },
);

try {
  await waitFor('marina up', async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok);
  await waitFor('the controller', async () => {
    await readFile(join(dataDir, 'controller', 'controller.json'));
    return true;
  });
  const admin = await controllerAdmin(dataDir);
  await waitFor('both shards', async () => {
    const { shards } = (await admin('GET', '/shards')).body as { shards: Json[] };
    return shards.filter((shard) => shard.state === 'running').length === SHARDS.length;
  });
  console.log(`Tenant moves on marina up --shards ${SHARDS.length} (SQLite)`);
  console.log(describeMachine());

  const idle = Array.from({ length: IDLE_TENANTS }, (_, i) => `idle-${i}.localhost`);
  for (const serverName of [...idle, LOADED]) {
    const created = await admin('POST', '/tenants', {
      server_name: serverName,
      registration: 'open',
    });
    if (created.status !== 200) throw new Error(`create ${serverName}: ${created.status}`);
  }

  console.log(
    '\n| case                                           | moves |       p50 |       p90 |       p99 |       max |',
  );
  console.log(
    '| ---------------------------------------------- | ----: | --------: | --------: | --------: | --------: |',
  );

  const asleep: MoveSample[] = [];
  for (let i = 0; i < IDLE_MOVES; i += 1) asleep.push(await move(admin, idle[i % idle.length]!));
  printMoves('idle, asleep', asleep);

  const awake: MoveSample[] = [];
  for (let i = 0; i < IDLE_MOVES; i += 1) {
    const serverName = idle[i % idle.length]!;
    const touched = await localhostFetch(`http://${serverName}:${port}/_matrix/key/v2/server`);
    if (touched.status !== 200) throw new Error(`${serverName}: ${touched.status}`);
    await sleep(20);
    awake.push(await move(admin, serverName));
  }
  printMoves('idle, awake', awake);

  const clients = await startSteadyClients({
    serverName: LOADED,
    baseUrl: `http://${LOADED}:${port}`,
    registration: { kind: 'open' },
  });
  const loaded: MoveSample[] = [];
  let report;
  try {
    await clients.waitForSends(3);
    for (let i = 0; i < LOAD_MOVES; i += 1) {
      loaded.push(await move(admin, LOADED));
      await clients.waitForMoreSends(1);
    }
  } finally {
    report = await clients.stop();
  }
  printMoves('under steady load (4 clients)', loaded);
  console.log(
    row(
      'under steady load: client sends (ack latency)',
      Object.values(report.sent).flatMap((messages) => messages.map((m) => m.ms)),
    ),
  );
  console.log(`\n${summarizeSteadyReport(report)}`);
  const problems = checkSteadyReport(report);
  console.log(
    problems.length === 0
      ? 'no failed request; every message received exactly once, in order'
      : `PROBLEMS:\n  ${problems.join('\n  ')}`,
  );
} finally {
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  await rm(dataDir, { recursive: true, force: true });
}
