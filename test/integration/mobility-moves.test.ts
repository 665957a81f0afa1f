import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMarinaUp, type MarinaUp } from '../helpers/marina-up.js';
import {
  checkSteadyReport,
  startSteadyClients,
  summarizeSteadyReport,
} from '../helpers/steady-clients.js';

/**
 * Issue 5's first proof: a tenant moved back and forth between two shards ten times
 * (`POST /tenants/:name/move`) while three hand-written clients and one matrix-js-sdk client
 * send and sync through the router. No client request may fail (the router holds the tenant's
 * requests during a move and replays those the old shard turned away), and every syncing
 * client receives every message exactly once, in each sender's order; the room's history holds
 * each exactly once.
 */

const TENANT = 'mover.localhost';
const MOVES = 10;

describe('a tenant moved back and forth under steady load', () => {
  let up: MarinaUp;

  beforeAll(async () => {
    up = await startMarinaUp(['--shards', '2']);
    await up.createTenant(TENANT, 'open');
  });

  afterAll(async () => {
    if (up) expect(await up.stop()).toBe(0);
  });

  it(`moves it ${MOVES} times without a failed client request or a lost, doubled or reordered message`, async () => {
    const clients = await startSteadyClients({
      serverName: TENANT,
      baseUrl: up.tenantUrl(TENANT),
      registration: { kind: 'open' },
    });
    let report;
    const moves: { from: string; to: string; duration_ms: number }[] = [];
    try {
      await clients.waitForSends(3);
      let at = (await up.tenant(TENANT)).shard_id as string;
      for (let i = 0; i < MOVES; i += 1) {
        const to = at === 'shard-0' ? 'shard-1' : 'shard-0';
        const moved = await up.admin('POST', `/tenants/${TENANT}/move`, { to });
        expect(moved, `move ${i + 1}`).toMatchObject({
          status: 200,
          body: { server_name: TENANT, from: at, to },
        });
        moves.push(moved.body);
        expect((await up.tenant(TENANT)).shard_id).toBe(to);
        at = to;
        // Every client gets two more messages through before the next move.
        await clients.waitForMoreSends(2);
        // The new shard serves it: the state is what that shard reports.
        expect(await up.tenant(TENANT)).toMatchObject({ shard_id: to, state: 'awake' });
      }
    } finally {
      report = await clients.stop();
    }
    console.log(summarizeSteadyReport(report));
    console.log(`move durations (ms): ${moves.map((m) => m.duration_ms).join(', ')}`);
    report.received.history = await clients.history();
    expect(checkSteadyReport(report, { minSentPerClient: MOVES })).toEqual([]);

    // The controller's record: the ten moves, newest first, manual and done.
    const { moves: recorded } = (await up.admin('GET', '/moves')).body as {
      moves: { server_name: string; from: string; to: string; reason: string; outcome: string }[];
    };
    const ours = recorded.filter((move) => move.server_name === TENANT);
    expect(ours).toHaveLength(MOVES);
    expect(ours.map(({ from, to, reason, outcome }) => ({ from, to, reason, outcome }))).toEqual(
      moves.map(({ from, to }) => ({ from, to, reason: 'manual', outcome: 'done' })).reverse(),
    );
  });

  it('refuses a move to where it is, to an unknown shard, and of an unknown tenant', async () => {
    const { shard_id: here } = await up.tenant(TENANT);
    expect(await up.admin('POST', `/tenants/${TENANT}/move`, { to: here })).toMatchObject({
      status: 400,
      body: { errcode: 'M_INVALID_PARAM' },
    });
    expect(await up.admin('POST', `/tenants/${TENANT}/move`, { to: 'shard-9' })).toMatchObject({
      status: 400,
      body: { errcode: 'M_INVALID_PARAM' },
    });
    expect(await up.admin('POST', '/tenants/nowhere.localhost/move', {})).toMatchObject({
      status: 404,
      body: { errcode: 'M_NOT_FOUND' },
    });
    expect((await up.tenant(TENANT)).shard_id).toBe(here);
  });
});
