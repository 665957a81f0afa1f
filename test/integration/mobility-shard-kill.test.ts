import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMarinaUp, type MarinaUp, type ShardInfo } from '../helpers/marina-up.js';
import {
  checkSteadyReport,
  startSteadyClients,
  summarizeSteadyReport,
  type FailedRequest,
} from '../helpers/steady-clients.js';

/**
 * Issue 5's failure proof: the shard hosting a tenant is killed with SIGKILL (its pid from
 * `GET /shards`) while three hand-written clients and one matrix-js-sdk client send and sync.
 * The controller notices within 5 s and brings the tenant back (restarting the shard or placing
 * the tenant elsewhere); meanwhile the router answers 503 M_UNKNOWN with Retry-After — never a
 * hang, and no other failure. The clients retry (a send with its txnId), so nothing acknowledged
 * is lost and nothing is doubled: every syncing client and the room's history hold every
 * acknowledged message exactly once, in each sender's order.
 */

const TENANT = 'victim.localhost';
/** The bound for the controller to notice a dead shard. */
const NOTICE_WITHIN_MS = 5_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a shard killed with SIGKILL under steady load', () => {
  let up: MarinaUp;

  beforeAll(async () => {
    // One shard (beside `localhost`): a restart brings the tenant back; fewer processes to
    // start on a busy machine.
    up = await startMarinaUp(['--shards', '1']);
    await up.createTenant(TENANT, 'open');
  });

  afterAll(async () => {
    if (up) expect(await up.stop()).toBe(0);
  });

  it('answers 503 with Retry-After meanwhile, and loses no acknowledged message', async () => {
    const clients = await startSteadyClients({
      serverName: TENANT,
      baseUrl: up.tenantUrl(TENANT),
      registration: { kind: 'open' },
    });
    let report;
    let killedAt = 0;
    let backAt = Infinity;
    try {
      await clients.waitForSends(5);
      const shardId = (await up.tenant(TENANT)).shard_id as string;
      const victim = (await up.shards()).find((shard) => shard.shard_id === shardId) as ShardInfo;
      expect(victim).toMatchObject({ state: 'running', pid: expect.any(Number) });
      killedAt = Date.now();
      process.kill(victim.pid as number, 'SIGKILL');

      // The controller notices: the shard is no longer listed as running with that pid.
      let noticedAt: number | undefined;
      while (noticedAt === undefined && Date.now() - killedAt < 30_000) {
        const now = (await up.shards()).find((shard) => shard.shard_id === shardId);
        if (now === undefined || now.state !== 'running' || now.pid !== victim.pid) {
          noticedAt = Date.now();
        } else await sleep(100);
      }
      expect(noticedAt, 'the controller never noticed').toBeDefined();
      expect((noticedAt as number) - killedAt).toBeLessThanOrEqual(NOTICE_WITHIN_MS);

      // Every client gets a message through again: the tenant is back, on a new process.
      await clients.waitForMoreSends(1, 45_000);
      backAt = Date.now();
      const tenant = await up.tenant(TENANT);
      const host = (await up.shards()).find((shard) => shard.shard_id === tenant.shard_id);
      expect(host).toMatchObject({ state: 'running' });
      expect(host?.pid).not.toBe(victim.pid);
      await clients.waitForMoreSends(3);
    } finally {
      report = await clients.stop();
    }
    console.log(summarizeSteadyReport(report));
    console.log(`back ${backAt - killedAt} ms after the kill`);
    report.received.history = await clients.history();

    // The only failures allowed: the router's 503 while the tenant had no live shard.
    const allowFailure = (failure: FailedRequest) =>
      failure.status === 503 &&
      failure.errcode === 'M_UNKNOWN' &&
      failure.retryAfter !== undefined &&
      failure.at >= killedAt &&
      failure.at <= backAt;
    expect(checkSteadyReport(report, { allowFailure, minSentPerClient: 9 })).toEqual([]);
    // The kill was seen by the clients (the harness did not miss it).
    expect(report.failures.length).toBeGreaterThan(0);
  });
});
