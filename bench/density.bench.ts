/**
 * Density (issue 4): many tenants on one real `marina shard` process, each with 2 users, a room
 * and 10 messages. Measures the time to create them, the shard's RSS with all of them
 * hibernated, the RSS each adds once awake and idle, the wake-up latency (first request to a
 * hibernated tenant) and the RSS once every tenant has woken and gone back to sleep (a leak
 * shows as RSS that keeps growing round after round). See bench/README.md.
 *
 * Run: npx tsx bench/density.bench.ts
 *   MARINA_BENCH_TENANTS          tenants (default 1000; 50 for a smoke run)
 *   MARINA_BENCH_CREATE_PARALLEL  tenants created at once (default 2: each registers 2 users,
 *                                 so up to 4 production scrypt hashes run at once)
 *   MARINA_BENCH_ROUNDS           rounds of wake → /sync → hibernate, tenant by tenant
 *                                 (default 3)
 *   MARINA_BENCH_DATA_DIR         keep the data here; a later run with the same directory and
 *                                 tenant count skips the (slow) creation. Default: a temp dir,
 *                                 removed at the end.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LocalTenantStore } from '../src/controller/local-tenant-store.js';
import type { TenantConfig } from '../src/services/tenant-config.js';
import {
  ShardClient,
  describeMachine,
  envInteger,
  forEachLimited,
  formatMemory,
  hibernateTenant,
  latencySummary,
  percentile,
  pushTenant,
  settledMemory,
  startBenchShard,
  tenantStates,
  type ShardProcess,
} from './shard-bench-kit.js';

const TENANTS = envInteger('MARINA_BENCH_TENANTS', 1000);
const CREATE_PARALLEL = envInteger('MARINA_BENCH_CREATE_PARALLEL', 2);
const ROUNDS = envInteger('MARINA_BENCH_ROUNDS', 3);
const MESSAGES_PER_ROOM = 10;
const PROGRESS_EVERY = 100;
/** Nothing hibernates by itself during the run: the benchmark hibernates tenants on purpose. */
const NEVER_IDLE = ['--idle-hibernate-ms', String(24 * 3600_000)];
const MANIFEST = 'density-bench.json';

/** What the measurements need of a tenant made by the creation phase. */
interface BenchTenant {
  serverName: string;
  aliceToken: string;
  roomId: string;
}

const names = Array.from(
  { length: TENANTS },
  (_, i) => `t${String(i + 1).padStart(4, '0')}.density.test`,
);
const keptDir = process.env.MARINA_BENCH_DATA_DIR;
const dataDir = keptDir ? resolve(keptDir) : await mkdtemp(join(tmpdir(), 'marina-bench-density-'));
const store = new LocalTenantStore(dataDir);
const shards: ShardProcess[] = [];
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mb = (value: number) => `${value.toFixed(2)} MB`;
const signed = (value: number) => `${value >= 0 ? '+' : ''}${value.toFixed(1)}`;
/** How the tenants were made, for the summary. */
let creation = 'skipped (an earlier run made them)';

console.log(`density benchmark: ${TENANTS} tenants on one shard`);
console.log(`machine: ${describeMachine()}`);
console.log(`data: ${dataDir}\n`);

/**
 * Creates the tenants on a shard of their own: folder, config pushed to the shard, Alice and Bob
 * (shared-secret registration), a public room Bob joins, 10 messages from both, then hibernated.
 */
async function createTenants(): Promise<BenchTenant[]> {
  const shard = await startBenchShard(dataDir, NEVER_IDLE);
  shards.push(shard);
  const client = new ShardClient(shard.trafficUrl);
  const stageMs = { folder: 0, users: 0, room: 0, hibernate: 0 };
  const tenants: BenchTenant[] = new Array(TENANTS);
  let done = 0;
  const began = performance.now();
  await forEachLimited(names, CREATE_PARALLEL, async (serverName, index) => {
    let at = performance.now();
    const lap = (stage: keyof typeof stageMs) => {
      const now = performance.now();
      stageMs[stage] += now - at;
      at = now;
    };
    const config = await store.create(serverName);
    await pushTenant(shard, config);
    lap('folder');
    const secret = config.registration_shared_secret;
    const [alice, bob] = await Promise.all([
      client.register(serverName, secret, 'alice'),
      client.register(serverName, secret, 'bob'),
    ]);
    lap('users');
    const { room_id: roomId } = await client.call(
      serverName,
      'POST',
      '/_matrix/client/v3/createRoom',
      alice,
      { preset: 'public_chat', name: `Room of ${serverName}` },
    );
    const room = encodeURIComponent(roomId as string);
    await client.call(serverName, 'POST', `/_matrix/client/v3/join/${room}`, bob, {});
    for (let i = 0; i < MESSAGES_PER_ROOM; i += 1) {
      await client.call(
        serverName,
        'PUT',
        `/_matrix/client/v3/rooms/${room}/send/m.room.message/m${i}`,
        i % 2 === 0 ? alice : bob,
        { msgtype: 'm.text', body: `message ${i} in ${serverName}` },
      );
    }
    lap('room');
    await hibernateTenant(shard, serverName);
    lap('hibernate');
    tenants[index] = { serverName, aliceToken: alice, roomId: roomId as string };
    done += 1;
    if (done % PROGRESS_EVERY === 0 || done === TENANTS) {
      const elapsed = performance.now() - began;
      console.log(
        `  created ${done}/${TENANTS} tenants in ${seconds(elapsed)} ` +
          `(${(done / (elapsed / 1000)).toFixed(2)} tenants/s)`,
      );
    }
  });
  const totalMs = performance.now() - began;
  creation = `${seconds(totalMs)} (${CREATE_PARALLEL} at a time)`;
  console.log(
    `\ncreation: ${TENANTS} tenants in ${seconds(totalMs)}, ${CREATE_PARALLEL} at a time ` +
      `(${((totalMs / TENANTS) * CREATE_PARALLEL).toFixed(0)} ms per tenant of one worker)`,
  );
  const perTenant = (ms: number) => `${(ms / TENANTS).toFixed(0)} ms`;
  console.log(
    `  per tenant: folder + push ${perTenant(stageMs.folder)}, 2 users (scrypt) ` +
      `${perTenant(stageMs.users)}, room + join + ${MESSAGES_PER_ROOM} messages ` +
      `${perTenant(stageMs.room)}, hibernate ${perTenant(stageMs.hibernate)}`,
  );
  console.log(
    `  the shard that created them, all hibernated: ${formatMemory(await settledMemory(shard))}`,
  );
  console.log(
    '  (it ran every first start, migrations included, and the scrypt hashes; the figures below' +
      ' come from a fresh shard)',
  );
  client.close();
  await shard.stop();
  shards.splice(shards.indexOf(shard), 1);
  await writeFile(join(dataDir, MANIFEST), JSON.stringify(tenants));
  return tenants;
}

/** The tenants of an earlier run in MARINA_BENCH_DATA_DIR, if it made as many. */
async function earlierTenants(): Promise<BenchTenant[] | undefined> {
  if (!keptDir) return undefined;
  const text = await readFile(join(dataDir, MANIFEST), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const tenants = JSON.parse(text) as BenchTenant[];
  if (tenants.length !== TENANTS) {
    throw new Error(`${dataDir} holds ${tenants.length} tenants, not ${TENANTS}: use another dir`);
  }
  console.log(`creation: skipped, reusing the ${TENANTS} tenants of an earlier run\n`);
  return tenants;
}

/** Wakes a hibernated tenant with a request that reads its database; the latency in ms. */
async function wake(client: ShardClient, tenant: BenchTenant): Promise<number> {
  const start = performance.now();
  const body = await client.call(
    tenant.serverName,
    'GET',
    '/_matrix/client/v3/account/whoami',
    tenant.aliceToken,
  );
  const ms = performance.now() - start;
  if (body.user_id !== `@alice:${tenant.serverName}`) throw new Error('whoami answered wrong');
  return ms;
}

/** Alice's initial /sync (what a client does first): fills the tenant's caches. */
async function initialSync(client: ShardClient, tenant: BenchTenant): Promise<number> {
  const start = performance.now();
  const body = await client.call(
    tenant.serverName,
    'GET',
    '/_matrix/client/v3/sync?timeout=0',
    tenant.aliceToken,
  );
  const ms = performance.now() - start;
  const events = body.rooms?.join?.[tenant.roomId]?.timeline?.events as unknown[] | undefined;
  if (!events || events.length === 0) throw new Error(`${tenant.serverName}: room not in sync`);
  return ms;
}

async function expectStates(shard: ShardProcess, expected: Record<string, number>) {
  const states = await tenantStates(shard);
  if (JSON.stringify(states) !== JSON.stringify(expected)) {
    throw new Error(
      `tenant states ${JSON.stringify(states)}, expected ${JSON.stringify(expected)}`,
    );
  }
}

try {
  await mkdir(dataDir, { recursive: true });
  const tenants = (await earlierTenants()) ?? (await createTenants());

  // A fresh shard, as after a restart: the tenants exist, none has run in this process.
  const shard = await startBenchShard(dataDir, NEVER_IDLE);
  shards.push(shard);
  const client = new ShardClient(shard.trafficUrl);
  const empty = await settledMemory(shard);
  console.log(`\nfresh shard, no tenant:                 ${formatMemory(empty)}`);
  const configs: TenantConfig[] = await Promise.all(names.map((name) => store.load(name)));
  const pushStart = performance.now();
  for (const config of configs) await pushTenant(shard, config);
  const pushMs = performance.now() - pushStart;
  await expectStates(shard, { hibernated: TENANTS });
  const hibernated = await settledMemory(shard);
  console.log(
    `${TENANTS} tenants registered, all hibernated: ${formatMemory(hibernated)}` +
      ` (target ≤ 300 MB for 1,000)`,
  );
  console.log(
    `  per hibernated tenant: ${mb((hibernated.rssMb - empty.rssMb) / TENANTS)} RSS; ` +
      `pushing their configs took ${seconds(pushMs)}`,
  );

  // Rounds: each tenant in turn wakes (timed), runs an initial /sync and hibernates, so that at
  // most one is awake. The first round is every tenant's first wake in this process; RSS that
  // stays level round after round means waking and hibernating leak nothing.
  const rounds: { wakeMs: number[]; memory: Awaited<ReturnType<typeof settledMemory>> }[] = [];
  for (let round = 1; round <= ROUNDS; round += 1) {
    const wakeMs: number[] = [];
    for (const tenant of tenants) {
      wakeMs.push(await wake(client, tenant));
      await initialSync(client, tenant);
      await hibernateTenant(shard, tenant.serverName);
    }
    await expectStates(shard, { hibernated: TENANTS });
    const memory = await settledMemory(shard);
    rounds.push({ wakeMs, memory });
    console.log(`
round ${round}: each tenant wakes, syncs and hibernates in turn`);
    console.log(`  wake-up (first request: GET /account/whoami): ${latencySummary(wakeMs)}`);
    if (round === 1) {
      console.log(
        `  (the very first wake also loads and compiles code: ${(wakeMs[0] as number).toFixed(1)} ms; target p99 ≤ 50 ms)`,
      );
    }
    console.log(
      `  then, all hibernated: ${formatMemory(memory)}; ` +
        `${signed(memory.rssMb - hibernated.rssMb)} MB since before the first wake`,
    );
  }

  // Every tenant awake at once, idle: what each costs.
  const wakeAllMs: number[] = [];
  for (const tenant of tenants) wakeAllMs.push(await wake(client, tenant));
  await expectStates(shard, { awake: TENANTS });
  const awake = await settledMemory(shard);
  console.log(`
all ${TENANTS} woken (${latencySummary(wakeAllMs)}) and idle`);
  console.log(`  ${formatMemory(awake)}`);
  console.log(`  per awake idle tenant: ${mb((awake.rssMb - hibernated.rssMb) / TENANTS)} RSS`);
  const syncMs: number[] = [];
  for (const tenant of tenants) syncMs.push(await initialSync(client, tenant));
  const synced = await settledMemory(shard);
  console.log(`after an initial /sync each (${latencySummary(syncMs)})`);
  console.log(`  ${formatMemory(synced)}`);
  const perAwake = (synced.rssMb - hibernated.rssMb) / TENANTS;
  console.log(`  per awake idle tenant: ${mb(perAwake)} RSS (target ≤ 2 MB)`);
  const hibernateStart = performance.now();
  for (const tenant of tenants) await hibernateTenant(shard, tenant.serverName);
  const hibernateMs = performance.now() - hibernateStart;
  await expectStates(shard, { hibernated: TENANTS });
  const afterAll = await settledMemory(shard);
  console.log(`all hibernated again (${seconds(hibernateMs)} to hibernate them)`);
  console.log(
    `  ${formatMemory(afterAll)}; ${signed(afterAll.rssMb - hibernated.rssMb)} MB since before ` +
      'the first wake (memory the tenants freed that the C allocator keeps for reuse)',
  );

  const first = rounds[0] as (typeof rounds)[number];
  const last = rounds[rounds.length - 1] as (typeof rounds)[number];
  const sorted = [...first.wakeMs].sort((a, b) => a - b);
  console.log(`
summary (${TENANTS} tenants; targets for 1,000)`);
  console.log(`  creation:                                  ${creation}`);
  console.log(
    `  RSS, all hibernated (fresh shard):          ${hibernated.rssMb.toFixed(1)} MB (≤ 300 MB)`,
  );
  console.log(`  RSS per awake idle tenant (after /sync):    ${mb(perAwake)} (≤ 2 MB)`);
  console.log(
    `  wake-up p50 / p99:                          ${percentile(sorted, 0.5).toFixed(1)} / ${percentile(sorted, 0.99).toFixed(1)} ms (p99 ≤ 50 ms)`,
  );
  console.log(
    `  RSS, all hibernated after every wake round: ${rounds.map((r) => r.memory.rssMb.toFixed(1)).join(', ')} MB ` +
      `(${signed(last.memory.rssMb - first.memory.rssMb)} MB from round 1 to ${ROUNDS})`,
  );
  console.log(`  RSS, all hibernated after all were awake:   ${afterAll.rssMb.toFixed(1)} MB`);
  client.close();
} finally {
  for (const shard of shards) await shard.stop();
  if (!keptDir) await rm(dataDir, { recursive: true, force: true });
}
