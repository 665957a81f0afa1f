import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMarinaUp, type MarinaUp } from '../helpers/marina-up.js';
import {
  checkSteadyReport,
  startSteadyClients,
  summarizeSteadyReport,
} from '../helpers/steady-clients.js';

/**
 * The harness of issue 5's proofs, with nothing moving: a real `marina up --shards 2`, a tenant
 * with open registration, three hand-written clients and one matrix-js-sdk client sending and
 * syncing through the router for ~5 s. No request may fail, and every syncing client must
 * receive every message exactly once, in each sender's order.
 */

const TENANT = 'steady.localhost';

describe('steady clients on marina up --shards 2, nothing moving', () => {
  let up: MarinaUp;

  beforeAll(async () => {
    up = await startMarinaUp(['--shards', '2']);
    await up.createTenant(TENANT, 'open');
  });

  afterAll(async () => {
    if (up) expect(await up.stop()).toBe(0);
  });

  it('sends and syncs for 5 s without a failed request or a lost, doubled or reordered message', async () => {
    // The tenant went to the shard with fewest tenants: not shard-0, which holds `localhost`.
    expect((await up.tenant(TENANT)).shard_id).toBe('shard-1');
    const clients = await startSteadyClients({
      serverName: TENANT,
      baseUrl: up.tenantUrl(TENANT),
      registration: { kind: 'open' },
    });
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    const report = await clients.stop();
    console.log(summarizeSteadyReport(report));
    expect(checkSteadyReport(report, { minSentPerClient: 10 })).toEqual([]);
    expect(report.failures).toEqual([]);
    // Four senders, each seen by four /sync streams and the SDK client's timeline.
    expect(Object.keys(report.sent)).toHaveLength(4);
    expect(Object.keys(report.received).sort()).toEqual([
      'client-0',
      'client-1',
      'client-2',
      'client-3',
      'client-3 (timeline)',
    ]);
  });
});
