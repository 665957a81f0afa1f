import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMarinaUp, type MarinaUp } from '../helpers/marina-up.js';
import {
  checkSteadyReport,
  startSteadyClients,
  summarizeSteadyReport,
} from '../helpers/steady-clients.js';

/**
 * Issue 5's upgrade proof: `POST /upgrade {"version":"0.1.0-next"}` on a `marina up --shards 2`
 * with three tenants, one of them under steady load (three hand-written clients and one
 * matrix-js-sdk client sending and syncing). The controller moves every tenant, a few at a
 * time, onto shards labelled with the new version and retires the old shards; `GET /upgrade`
 * goes back to idle. No client request may fail, and every message arrives exactly once, in
 * each sender's order.
 */

const LOADED = 'upgraded.localhost';
const IDLE = ['idle-a.localhost', 'idle-b.localhost'];
const NEXT = '0.1.0-next';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

describe('an upgrade under steady load', () => {
  let up: MarinaUp;

  beforeAll(async () => {
    up = await startMarinaUp(['--shards', '2']);
    for (const tenant of [LOADED, ...IDLE]) await up.createTenant(tenant, 'open');
  });

  afterAll(async () => {
    if (up) expect(await up.stop()).toBe(0);
  });

  it(`moves every tenant onto ${NEXT} shards without a failed client request`, async () => {
    const before = await up.shards();
    const oldVersion = before[0]?.version;
    expect(oldVersion).toEqual(expect.any(String));
    expect(oldVersion).not.toBe(NEXT);

    const clients = await startSteadyClients({
      serverName: LOADED,
      baseUrl: up.tenantUrl(LOADED),
      registration: { kind: 'open' },
    });
    let report;
    let progress: Json;
    try {
      await clients.waitForSends(3);
      const started = await up.admin('POST', '/upgrade', { version: NEXT });
      expect(started).toMatchObject({
        status: 202,
        body: { target_version: NEXT, tenants_to_move: 4 }, // three tenants and `localhost`
      });
      const deadline = Date.now() + 45_000;
      do {
        await sleep(250);
        progress = (await up.admin('GET', '/upgrade')).body;
      } while ((progress.state !== 'idle' || progress.tenants_left !== 0) && Date.now() < deadline);
      await clients.waitForMoreSends(2);
    } finally {
      report = await clients.stop();
    }
    console.log(summarizeSteadyReport(report));
    expect(progress).toMatchObject({ target_version: NEXT, state: 'idle', tenants_left: 0 });
    expect(Object.keys(progress.shards_by_version)).toEqual([NEXT]);

    // Every shard still running runs the new version, and every tenant is on one of them.
    const after = (await up.shards()).filter((shard) => shard.state !== 'stopped');
    expect(after.length).toBeGreaterThan(0);
    for (const shard of after) expect(shard).toMatchObject({ version: NEXT, state: 'running' });
    const newShards = new Set(after.map((shard) => shard.shard_id));
    for (const tenant of await up.tenants()) {
      expect(newShards.has(tenant.shard_id as string), tenant.server_name).toBe(true);
    }
    const { moves } = (await up.admin('GET', '/moves')).body as {
      moves: { server_name: string; reason: string; outcome: string }[];
    };
    expect(
      moves
        .filter((move) => move.reason === 'upgrade' && move.outcome === 'done')
        .map((move) => move.server_name)
        .sort(),
    ).toEqual([LOADED, ...IDLE, 'localhost'].sort());

    report.received.history = await clients.history();
    expect(checkSteadyReport(report, { minSentPerClient: 5 })).toEqual([]);
  });
});
