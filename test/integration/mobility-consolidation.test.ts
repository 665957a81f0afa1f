import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMarinaUp, type MarinaUp } from '../helpers/marina-up.js';
import {
  checkSteadyReport,
  startSteadyClients,
  summarizeSteadyReport,
  type SteadyClients,
} from '../helpers/steady-clients.js';

/**
 * Issue 5's consolidation proof. `marina up --shards 1 --max-tenants-per-shard 2
 * --avg-shards-load-redistribution-threshold 1.5`: with `localhost` and four tenants the
 * controller fills shard-0 (localhost, t1), starts shard-1 (t2, t3) and shard-2 (t4) — 5 tenants
 * on 3 shards, 1.67 per shard. Deleting t1 leaves 4 on 3 (1.33, below 1.5): the controller
 * empties a least-loaded shard (shard-0 with localhost, or shard-2 with t4, one tenant each)
 * into the others' free places and retires it, so 2 shards remain. Clients send and sync on
 * both candidates, localhost and t4, throughout: no request may fail, and every message
 * arrives exactly once, in each sender's order.
 */

const [T1, T2, T3, T4] = ['t1.localhost', 't2.localhost', 't3.localhost', 't4.localhost'];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('consolidation after deletions, under steady load', () => {
  let up: MarinaUp;

  /** Shards not stopped: a retiring shard still counts until its process is gone. */
  const liveShards = async () =>
    (await up.shards()).filter((shard) => shard.state !== 'stopped').map((s) => s.shard_id);

  beforeAll(async () => {
    up = await startMarinaUp([
      '--shards',
      '1',
      '--max-tenants-per-shard',
      '2',
      '--avg-shards-load-redistribution-threshold',
      '1.5',
    ]);
    for (const tenant of [T1, T2, T3, T4]) await up.createTenant(tenant, 'open');
  });

  afterAll(async () => {
    if (up) expect(await up.stop()).toBe(0);
  });

  it('retires a shard once the average drops below the threshold, and no client notices', async () => {
    // Fill existing shards first; a new shard only when every shard is full.
    const placed = Object.fromEntries(
      (await up.tenants()).map((tenant) => [tenant.server_name, tenant.shard_id]),
    );
    expect(placed).toEqual({
      localhost: 'shard-0',
      [T1]: 'shard-0',
      [T2]: 'shard-1',
      [T3]: 'shard-1',
      [T4]: 'shard-2',
    });
    expect((await up.shards()).map(({ shard_id, state }) => ({ shard_id, state }))).toEqual(
      ['shard-0', 'shard-1', 'shard-2'].map((shard_id) => ({ shard_id, state: 'running' })),
    );

    const secret = ((await up.admin('GET', '/tenants/localhost')).body as Record<string, unknown>)
      .registration_shared_secret as string;
    const sets: SteadyClients[] = [
      await startSteadyClients({
        serverName: 'localhost',
        baseUrl: up.tenantUrl('localhost'),
        registration: { kind: 'shared-secret', secret },
        fetchClients: 2,
        sdkClients: 0,
      }),
      await startSteadyClients({
        serverName: T4,
        baseUrl: up.tenantUrl(T4),
        registration: { kind: 'open' },
        fetchClients: 2,
        sdkClients: 1,
      }),
    ];
    const reports = [];
    let shardsAfter: string[] = [];
    try {
      for (const clients of sets) await clients.waitForSends(3);
      // Delete tenants (t1, then t3 if need be) until a shard is retired.
      for (const tenant of [T1, T3]) {
        await up.deleteTenant(tenant);
        const deadline = Date.now() + 20_000;
        do {
          await sleep(250);
          shardsAfter = await liveShards();
        } while (shardsAfter.length === 3 && Date.now() < deadline);
        if (shardsAfter.length < 3) break;
      }
      for (const clients of sets) await clients.waitForMoreSends(2);
    } finally {
      for (const clients of sets) reports.push(await clients.stop());
    }
    for (const report of reports) console.log(summarizeSteadyReport(report));
    expect(shardsAfter).toHaveLength(2);

    const { moves } = (await up.admin('GET', '/moves')).body as {
      moves: { server_name: string; from: string; reason: string; outcome: string }[];
    };
    const consolidation = moves.filter((move) => move.reason === 'consolidation');
    console.log(`consolidation moved: ${consolidation.map((m) => m.server_name).join(', ')}`);
    expect(consolidation.length).toBeGreaterThan(0);
    for (const move of consolidation) expect(move.outcome).toBe('done');
    // Every tenant left is on a shard still running.
    for (const tenant of await up.tenants()) {
      expect(shardsAfter, tenant.server_name).toContain(tenant.shard_id);
    }

    for (const [i, report] of reports.entries()) {
      report.received.history = await sets[i]!.history();
      expect(checkSteadyReport(report, { minSentPerClient: 5 }), report.serverName).toEqual([]);
    }
  });
});
