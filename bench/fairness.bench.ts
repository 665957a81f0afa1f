/**
 * Fairness (issue 4): on one real `marina shard` process, a quiet tenant's latency with and
 * without a noisy neighbour. The quiet tenant's client does, one request at a time, a message
 * send then an incremental /sync; first alone, then while another tenant of the same shard is
 * flooded by many parallel loops of sends (from a separate process, so that the flood's client
 * work does not delay the quiet client's timers), then alone again. The shard's per-tenant
 * in-flight cap with its queue (src/shard/in-flight-limiter.ts) is what should keep the quiet
 * tenant's latency close to its latency alone. See bench/README.md.
 *
 * Run: npx tsx bench/fairness.bench.ts
 *   MARINA_BENCH_SECONDS       measured seconds per phase (default 20)
 *   MARINA_BENCH_NOISY_LOOPS   parallel send loops of the noisy tenant (default 64)
 *   MARINA_BENCH_NOISY_ROOMS   rooms the loops share out (default 8)
 *   MARINA_BENCH_MAX_IN_FLIGHT, MARINA_BENCH_MAX_QUEUED
 *                              the shard's --max-in-flight / --max-queued (default: the shard's
 *                              own, 32 and 256); a huge cap shows the shard without the limit
 */
import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalTenantStore } from '../src/controller/local-tenant-store.js';
import {
  ShardClient,
  describeMachine,
  envInteger,
  latencySummary,
  percentile,
  pushTenant,
  sleep,
  startBenchShard,
  type ShardProcess,
} from './shard-bench-kit.js';

const SECONDS = envInteger('MARINA_BENCH_SECONDS', 20);
const NOISY_LOOPS = envInteger('MARINA_BENCH_NOISY_LOOPS', 64);
const NOISY_ROOMS = envInteger('MARINA_BENCH_NOISY_ROOMS', 8);
const WARM_UP_MS = 3_000;
/** The flood runs this long before the quiet tenant is measured beside it. */
const RAMP_UP_MS = 2_000;
const ROLE_ENV = 'MARINA_BENCH_FAIRNESS_ROLE';

const QUIET = 'quiet.fairness.test';
const NOISY = 'noisy.fairness.test';

/** What the parent tells the noisy process. */
interface FloodPlan {
  trafficUrl: string;
  host: string;
  token: string;
  roomIds: string[];
  loops: number;
}

/** What the noisy process reports when stopped. */
interface FloodReport {
  ok: number;
  limited: number;
  failed: number;
  seconds: number;
  /** Latency of its answered (200) sends, summarized here: the samples are too many to send. */
  latency: string;
}

type ParentMessage = { plan: FloodPlan } | { stop: true };
type ChildMessage = { started: true } | { report: FloodReport };

/** The noisy process: `loops` parallel send loops until told to stop; counts the answers. */
async function runFlood(): Promise<void> {
  const send = (message: ChildMessage) => process.send?.(message);
  const plan = await new Promise<FloodPlan>((resolve) =>
    process.once('message', (message: ParentMessage) => {
      if ('plan' in message) resolve(message.plan);
    }),
  );
  let stopping = false;
  process.on('message', (message: ParentMessage) => {
    if ('stop' in message) stopping = true;
  });
  // The benchmark went away: stop too.
  process.on('disconnect', () => (stopping = true));
  const client = new ShardClient(plan.trafficUrl);
  const report: FloodReport = { ok: 0, limited: 0, failed: 0, seconds: 0, latency: '' };
  const okLatenciesMs: number[] = [];
  const began = performance.now();
  const loop = async (index: number) => {
    const room = encodeURIComponent(plan.roomIds[index % plan.roomIds.length] as string);
    for (let n = 0; !stopping; n += 1) {
      const start = performance.now();
      const status = await client
        .raw(
          plan.host,
          'PUT',
          `/_matrix/client/v3/rooms/${room}/send/m.room.message/flood-${index}-${n}`,
          plan.token,
          { msgtype: 'm.text', body: `flood ${index}/${n}` },
        )
        .then(
          (result) => result.status,
          () => 0,
        );
      // A flood ignores retry_after_ms: it asks again at once.
      if (status === 200) {
        report.ok += 1;
        okLatenciesMs.push(performance.now() - start);
      } else if (status === 429) report.limited += 1;
      else report.failed += 1;
    }
  };
  const loops = Array.from({ length: plan.loops }, (_, i) => loop(i));
  send({ started: true });
  await Promise.all(loops);
  report.seconds = (performance.now() - began) / 1000;
  report.latency = latencySummary(okLatenciesMs);
  client.close();
  if (process.connected)
    process.send?.({ report } satisfies ChildMessage, () => process.disconnect());
}

async function runBenchmark(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'marina-bench-fairness-'));
  const shardArgs = ['--idle-hibernate-ms', String(24 * 3600_000)];
  if (process.env.MARINA_BENCH_MAX_IN_FLIGHT) {
    shardArgs.push('--max-in-flight', String(envInteger('MARINA_BENCH_MAX_IN_FLIGHT', 32)));
  }
  if (process.env.MARINA_BENCH_MAX_QUEUED) {
    shardArgs.push('--max-queued', String(envInteger('MARINA_BENCH_MAX_QUEUED', 256)));
  }
  let shard: ShardProcess | undefined;
  console.log(
    `fairness benchmark: ${SECONDS} s per phase, noisy neighbour = ${NOISY_LOOPS} parallel send ` +
      `loops over ${NOISY_ROOMS} rooms; shard ${shardArgs.slice(2).join(' ') || 'limits: defaults (32 in flight, 256 queued)'}`,
  );
  console.log(`machine: ${describeMachine()}\n`);
  try {
    shard = await startBenchShard(dataDir, shardArgs);
    const client = new ShardClient(shard.trafficUrl);
    const store = new LocalTenantStore(dataDir);
    const users = new Map<string, string>();
    for (const serverName of [QUIET, NOISY]) {
      const config = await store.create(serverName);
      await pushTenant(shard, config);
      const token = await client.register(serverName, config.registration_shared_secret, 'user');
      users.set(serverName, token);
    }
    const quietToken = users.get(QUIET) as string;
    const noisyToken = users.get(NOISY) as string;
    const createRoom = async (host: string, token: string) =>
      (await client.call(host, 'POST', '/_matrix/client/v3/createRoom', token, {}))
        .room_id as string;
    const quietRoom = await createRoom(QUIET, quietToken);
    const noisyRooms: string[] = [];
    for (let i = 0; i < NOISY_ROOMS; i += 1) noisyRooms.push(await createRoom(NOISY, noisyToken));

    let since = (await client.call(QUIET, 'GET', '/_matrix/client/v3/sync', quietToken))
      .next_batch as string;
    let txn = 0;
    /** The quiet client for `ms`: send, then incremental sync, one request at a time. */
    const quietFor = async (ms: number) => {
      const sends: number[] = [];
      const syncs: number[] = [];
      const end = performance.now() + ms;
      const room = encodeURIComponent(quietRoom);
      while (performance.now() < end) {
        let start = performance.now();
        await client.call(
          QUIET,
          'PUT',
          `/_matrix/client/v3/rooms/${room}/send/m.room.message/q${++txn}`,
          quietToken,
          { msgtype: 'm.text', body: `quiet ${txn}` },
        );
        sends.push(performance.now() - start);
        start = performance.now();
        const body = await client.call(
          QUIET,
          'GET',
          `/_matrix/client/v3/sync?since=${since}&timeout=0`,
          quietToken,
        );
        syncs.push(performance.now() - start);
        if (body.rooms?.join?.[quietRoom]?.timeline?.events?.length !== 1) {
          throw new Error('the quiet tenant’s incremental sync missed its message');
        }
        since = body.next_batch as string;
      }
      return { sends, syncs, all: [...sends, ...syncs] };
    };
    type Samples = Awaited<ReturnType<typeof quietFor>>;
    const show = (label: string, samples: Samples) => {
      console.log(`${label}`);
      console.log(`  send:           ${latencySummary(samples.sends)}`);
      console.log(`  sync:           ${latencySummary(samples.syncs)}`);
      console.log(`  both:           ${latencySummary(samples.all)}`);
      console.log(`  requests/s:     ${(samples.all.length / SECONDS).toFixed(0)}`);
    };

    await quietFor(WARM_UP_MS);
    const alone = await quietFor(SECONDS * 1000);
    show('quiet tenant alone', alone);

    // The noisy neighbour: a separate process (same tsx loader) flooding its tenant.
    const flood = fork(fileURLToPath(import.meta.url), [], {
      execArgv: process.execArgv,
      env: { ...process.env, [ROLE_ENV]: 'noisy' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const messages: ChildMessage[] = [];
    const waiters: (() => void)[] = [];
    flood.on('message', (message: ChildMessage) => {
      messages.push(message);
      for (const wake of waiters.splice(0)) wake();
    });
    const nextMessage = async <K extends string>(key: K) => {
      for (;;) {
        const found = messages.find((message) => key in message);
        if (found) return found as Extract<ChildMessage, Record<K, unknown>>;
        await new Promise<void>((resolve, reject) => {
          waiters.push(resolve);
          flood.once('exit', (code) => reject(new Error(`the flood exited with ${code}`)));
        });
      }
    };
    const plan: FloodPlan = {
      trafficUrl: shard.trafficUrl,
      host: NOISY,
      token: noisyToken,
      roomIds: noisyRooms,
      loops: NOISY_LOOPS,
    };
    flood.send({ plan } satisfies ParentMessage);
    await nextMessage('started');
    await sleep(RAMP_UP_MS);
    const probe = new QueueProbe(shard);
    const beside = await quietFor(SECONDS * 1000);
    const queues = await probe.stop();
    flood.send({ stop: true } satisfies ParentMessage);
    const { report } = await nextMessage('report');
    show(`\nquiet tenant beside the noisy one`, beside);
    console.log(
      `noisy tenant: ${report.ok} sends answered 200 (${(report.ok / report.seconds).toFixed(0)}/s ` +
        `over ${report.seconds.toFixed(1)} s), ${report.limited} answered 429, ${report.failed} other errors`,
    );
    console.log(`  its sends answered 200: ${report.latency}`);
    console.log(`  in the shard (/metrics every 200 ms): ${queues}`);

    const after = await quietFor(SECONDS * 1000);
    show('\nquiet tenant alone again', after);

    const p = (samples: number[], q: number) =>
      percentile(
        [...samples].sort((a, b) => a - b),
        q,
      ).toFixed(2);
    console.log('\nsummary (quiet tenant, send + incremental sync, one at a time)');
    console.log(`  alone:            p50 ${p(alone.all, 0.5)} ms, p99 ${p(alone.all, 0.99)} ms`);
    console.log(`  beside the flood: p50 ${p(beside.all, 0.5)} ms, p99 ${p(beside.all, 0.99)} ms`);
    console.log(`  alone again:      p50 ${p(after.all, 0.5)} ms, p99 ${p(after.all, 0.99)} ms`);
    console.log(
      `  noisy tenant:     ${report.ok} sends ok, ${report.limited} × 429, ${report.failed} errors`,
    );
    client.close();
  } finally {
    await shard?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/**
 * Samples the noisy tenant's requests in flight and queued (the shard's /metrics) while the
 * quiet tenant is measured: shows whether the per-tenant cap and queue are in play.
 */
class QueueProbe {
  readonly #inFlight: number[] = [];
  readonly #queued: number[] = [];
  readonly #done: Promise<void>;
  #stopped = false;

  constructor(shard: ShardProcess) {
    this.#done = (async () => {
      while (!this.#stopped) {
        const { text } = await shard.admin('GET', '/metrics', { token: null });
        this.#inFlight.push(gauge(text, 'marina_tenant_in_flight'));
        this.#queued.push(gauge(text, 'marina_tenant_queue_length'));
        await sleep(200);
      }
    })();
  }

  async stop(): Promise<string> {
    this.#stopped = true;
    await this.#done;
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    return (
      `in flight mean ${mean(this.#inFlight).toFixed(1)} (max ${Math.max(...this.#inFlight)}), ` +
      `queued mean ${mean(this.#queued).toFixed(1)} (max ${Math.max(...this.#queued)}), ` +
      `${this.#inFlight.length} samples`
    );
  }
}

function gauge(metrics: string, name: string): number {
  const line = new RegExp(
    `^${name}\\{server_name="${NOISY.replaceAll('.', '\\.')}"\\} (\\S+)$`,
    'm',
  );
  return Number(line.exec(metrics)?.[1] ?? NaN);
}

// Last, once the classes above are initialized.
if (process.env[ROLE_ENV] === 'noisy') await runFlood();
else await runBenchmark();
