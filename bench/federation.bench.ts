/**
 * Federation between tenants of one deployment (issue 7), on a real `marina up` with two shards:
 * alpha and beta on one shard, gamma on the other (SQLite, warn-level logs).
 *
 *   1. Latency: alice on alpha sends messages one at a time into a room carol on gamma has
 *      joined; carol keeps a long-poll `/sync` open. For each message: from alice's `PUT /send`
 *      being issued (and from its answer) to carol's `/sync` returning with it. Target: p50 ≤
 *      10 ms.
 *   2. Joining a big room: a public room on alpha with MEMBERS joined local users; carol on
 *      gamma joins it (make_join, send_join with the whole state and auth chain, checks,
 *      storage): the wall time of her `POST /join`, reported.
 *
 * Run: npx tsx bench/federation.bench.ts
 *   MARINA_BENCH_FED_MESSAGES   messages timed per path (default 300)
 *   MARINA_BENCH_FED_WARM_UP    messages sent unmeasured first on each path (default 1000)
 *   MARINA_BENCH_FED_MEMBERS    members of the big room (default 1000)
 *   MARINA_BENCH_FED_LOG_LEVEL  log level of marina up and its shards (default warn: no line
 *                               per request; `info` measures with the request log)
 */
import { FederatedUser } from '../test/helpers/federated-users.js';
import { startMarinaUp } from '../test/helpers/marina-up.js';
import { describeMachine, envInteger, forEachLimited, latencySummary } from './shard-bench-kit.js';

const MESSAGES = envInteger('MARINA_BENCH_FED_MESSAGES', 300);
// Until V8 has optimised the request paths (see bench/README.md, client-core.bench.ts).
const WARMUP = envInteger('MARINA_BENCH_FED_WARM_UP', 1000);
const LOG_LEVEL = process.env.MARINA_BENCH_FED_LOG_LEVEL ?? 'warn';
const MEMBERS = envInteger('MARINA_BENCH_FED_MEMBERS', 1000);
const [ALPHA, BETA, GAMMA] = ['alpha.localhost', 'beta.localhost', 'gamma.localhost'];

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function main(): Promise<void> {
  console.log(`machine: ${describeMachine()}`);
  console.log(`log level: ${LOG_LEVEL}, ${WARMUP} messages of warm-up per path`);
  const up = await startMarinaUp(['--shards', '1', '--max-tenants-per-shard', '3'], 60_000, {
    logLevel: LOG_LEVEL,
  });
  try {
    for (const name of [ALPHA, BETA, GAMMA]) await up.createTenant(name, 'open');
    const placement = Object.fromEntries(
      (await up.tenants()).map((tenant) => [tenant.server_name, tenant.shard_id]),
    );
    console.log(`placement: ${JSON.stringify(placement)}`);
    if (placement[GAMMA] === placement[ALPHA]) throw new Error('gamma must be on another shard');

    const alice = await FederatedUser.register(up.tenantUrl(ALPHA), 'alice');
    const carol = await FederatedUser.register(up.tenantUrl(GAMMA), 'carol');
    // The same measure with the receiver on alpha itself: what federation adds to a local send.
    const amy = await FederatedUser.register(up.tenantUrl(ALPHA), 'amy');
    await latency(alice, amy, 'alpha → alpha (local baseline)');
    await latency(alice, carol, 'alpha → gamma');
    await bigRoomJoin(up.tenantUrl(ALPHA), alice, carol);
  } finally {
    await up.stop();
  }
}

async function latency(alice: FederatedUser, carol: FederatedUser, label: string): Promise<void> {
  const roomId = await alice.createRoom({ preset: 'private_chat' });
  await alice.invite(roomId, carol.userId);
  await waitUntil(async () => (await carol.sync('timeout=0')).rooms?.invite?.[roomId]);
  await carol.join(roomId, [ALPHA]);
  let since = (await carol.sync('timeout=0')).next_batch as string;

  const fromIssued: number[] = [];
  const fromAnswered: number[] = [];
  for (let i = 0; i < WARMUP + MESSAGES; i += 1) {
    const body = `latency-${i}`;
    // Carol's long-poll is open before alice sends.
    const arrived = (async () => {
      for (;;) {
        const sync = await carol.sync(`since=${encodeURIComponent(since)}&timeout=30000`);
        since = sync.next_batch;
        const events: Json[] = sync.rooms?.join?.[roomId]?.timeline?.events ?? [];
        if (events.some((event) => event.content?.body === body)) return performance.now();
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const issued = performance.now();
    await alice.send(roomId, body);
    const answered = performance.now();
    const at = await arrived;
    if (i >= WARMUP) {
      fromIssued.push(at - issued);
      fromAnswered.push(at - answered);
    }
  }
  console.log(
    `${label}, send issued → the receiver's /sync returned: ${latencySummary(fromIssued)}`,
  );
  console.log(
    `${label}, send answered → the receiver's /sync returned: ${latencySummary(fromAnswered)}`,
  );
}

async function bigRoomJoin(alphaUrl: string, alice: FederatedUser, carol: FederatedUser) {
  const roomId = await alice.createRoom({ preset: 'public_chat' });
  const started = performance.now();
  let done = 0;
  await forEachLimited(
    Array.from({ length: MEMBERS - 1 }, (_, i) => i),
    4,
    async (i) => {
      const member = await FederatedUser.register(alphaUrl, `member${i}`);
      await member.join(roomId);
      done += 1;
      if (done % 100 === 0) {
        console.log(
          `  ${done} members joined (${((performance.now() - started) / 1000).toFixed(0)} s)`,
        );
      }
    },
  );
  const joinStart = performance.now();
  await carol.join(roomId, [ALPHA]);
  const joinMs = performance.now() - joinStart;
  const members = await carol.ok('GET', `/rooms/${encodeURIComponent(roomId)}/joined_members`);
  console.log(
    `joining a room of ${MEMBERS} members held on another tenant: ${joinMs.toFixed(0)} ms ` +
      `(gamma then sees ${Object.keys(members.joined).length} joined members)`,
  );
}

async function waitUntil(check: () => Promise<unknown>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

await main();
