import { register } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ControllerMetrics, type ControllerSnapshot } from './controller-metrics.js';

/** The sample lines of a Prometheus text exposition (no HELP/TYPE comments). */
function samples(body: string): string[] {
  return body.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
}

const EMPTY: ControllerSnapshot = { tenants: [], shards: [], pendingBecauseShardsFull: 0 };

describe('ControllerMetrics', () => {
  it('counts moves by reason and outcome, and times them', async () => {
    const metrics = new ControllerMetrics({ version: '0.1.0', snapshot: () => EMPTY });
    metrics.moveStarted('manual');
    metrics.moveFinished('manual', 'done', 0.04);
    metrics.moveStarted('manual');
    metrics.moveFinished('manual', 'failed', 12);
    metrics.moveStarted('drain');
    metrics.moveFinished('drain', 'done', 0.2);
    metrics.moveStarted('upgrade');

    const lines = samples((await metrics.render()).body);
    expect(lines).toEqual(
      expect.arrayContaining([
        'synapse_shards_controller_moves_started_total{reason="manual"} 2',
        'synapse_shards_controller_moves_started_total{reason="drain"} 1',
        'synapse_shards_controller_moves_started_total{reason="upgrade"} 1',
        'synapse_shards_controller_moves_total{reason="manual",outcome="done"} 1',
        'synapse_shards_controller_moves_total{reason="manual",outcome="failed"} 1',
        'synapse_shards_controller_moves_total{reason="drain",outcome="done"} 1',
        'synapse_shards_controller_moves_total{reason="drain",outcome="failed"} 0',
        // A move still running is started, not yet counted as done or failed.
        'synapse_shards_controller_moves_total{reason="upgrade",outcome="done"} 0',
        'synapse_shards_controller_moves_total{reason="upgrade",outcome="failed"} 0',
        'synapse_shards_controller_move_duration_seconds_bucket{le="0.01",reason="manual"} 0',
        'synapse_shards_controller_move_duration_seconds_bucket{le="0.05",reason="manual"} 1',
        'synapse_shards_controller_move_duration_seconds_bucket{le="10",reason="manual"} 1',
        'synapse_shards_controller_move_duration_seconds_bucket{le="20",reason="manual"} 2',
        'synapse_shards_controller_move_duration_seconds_bucket{le="30",reason="manual"} 2',
        'synapse_shards_controller_move_duration_seconds_count{reason="manual"} 2',
        'synapse_shards_controller_move_duration_seconds_sum{reason="manual"} 12.04',
        'synapse_shards_controller_move_duration_seconds_count{reason="drain"} 1',
      ]),
    );
    expect(lines.some((line) => line.includes('duration_seconds_count{reason="upgrade"}'))).toBe(
      false,
    );
  });

  it('counts shard restarts per shard, reconcile passes and their failures', async () => {
    const metrics = new ControllerMetrics({ version: '0.1.0', snapshot: () => EMPTY });
    metrics.shardRestarted('shard-1');
    metrics.shardRestarted('shard-1');
    metrics.shardRestarted('shard-0');
    metrics.reconciled(0.003);
    metrics.reconciled(0.2);
    metrics.reconcileFailed();

    const lines = samples((await metrics.render()).body);
    expect(lines).toEqual(
      expect.arrayContaining([
        'synapse_shards_controller_shard_restarts_total{shard_id="shard-1"} 2',
        'synapse_shards_controller_shard_restarts_total{shard_id="shard-0"} 1',
        'synapse_shards_controller_reconcile_duration_seconds_bucket{le="0.005"} 1',
        'synapse_shards_controller_reconcile_duration_seconds_bucket{le="0.25"} 2',
        'synapse_shards_controller_reconcile_duration_seconds_count 2',
        'synapse_shards_controller_reconcile_errors_total 1',
      ]),
    );
  });

  it('reads tenants, shards and pending placements from a fresh snapshot at each scrape', async () => {
    let snapshot: ControllerSnapshot = {
      tenants: [
        { state: 'placed', count: 5 },
        { state: 'moving', count: 1 },
        { state: 'pending', count: 2 },
      ],
      shards: [
        { shard_id: 'shard-0', version: '0.1.0', state: 'running', tenants: 4 },
        { shard_id: 'shard-1', version: '0.1.0', state: 'draining', tenants: 1 },
        { shard_id: 'shard-2', version: '0.2.0', state: 'running', tenants: 1 },
      ],
      pendingBecauseShardsFull: 2,
    };
    let reads = 0;
    const metrics = new ControllerMetrics({
      version: '0.2.0',
      snapshot: async () => {
        reads += 1;
        return snapshot;
      },
    });

    const first = samples((await metrics.render()).body);
    expect(reads).toBe(1);
    expect(first).toEqual(
      expect.arrayContaining([
        'synapse_shards_controller_tenants{state="placed"} 5',
        'synapse_shards_controller_tenants{state="pending"} 2',
        'synapse_shards_controller_tenants{state="moving"} 1',
        'synapse_shards_controller_tenants{state="failed"} 0',
        'synapse_shards_controller_shards{state="running",version="0.1.0"} 1',
        'synapse_shards_controller_shards{state="draining",version="0.1.0"} 1',
        'synapse_shards_controller_shards{state="restarting",version="0.1.0"} 0',
        'synapse_shards_controller_shards{state="running",version="0.2.0"} 1',
        'synapse_shards_controller_shards{state="draining",version="0.2.0"} 0',
        'synapse_shards_controller_shard_tenants{shard_id="shard-0",version="0.1.0"} 4',
        'synapse_shards_controller_shard_tenants{shard_id="shard-1",version="0.1.0"} 1',
        'synapse_shards_controller_shard_tenants{shard_id="shard-2",version="0.2.0"} 1',
        'synapse_shards_controller_pending_shards_full 2',
        'synapse_shards_controller_info{version="0.2.0"} 1',
      ]),
    );

    // The old shards retired: they leave the gauges.
    snapshot = {
      tenants: [{ state: 'placed', count: 8 }],
      shards: [{ shard_id: 'shard-2', version: '0.2.0', state: 'running', tenants: 8 }],
      pendingBecauseShardsFull: 0,
    };
    const second = samples((await metrics.render()).body);
    expect(reads).toBe(2);
    expect(second).toEqual(
      expect.arrayContaining([
        'synapse_shards_controller_tenants{state="placed"} 8',
        'synapse_shards_controller_tenants{state="moving"} 0',
        'synapse_shards_controller_shards{state="running",version="0.2.0"} 1',
        'synapse_shards_controller_shard_tenants{shard_id="shard-2",version="0.2.0"} 8',
        'synapse_shards_controller_pending_shards_full 0',
      ]),
    );
    expect(second.filter((line) => line.includes('0.1.0'))).toEqual([]);
  });

  it('uses its own registry, not the global one, and says what it serves', async () => {
    const a = new ControllerMetrics({ version: '1', snapshot: () => EMPTY });
    const b = new ControllerMetrics({ version: '2', snapshot: () => EMPTY });
    a.shardRestarted('shard-0');
    const rendered = await b.render();
    expect(rendered.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(rendered.body).not.toContain('shard_restarts_total{');
    expect(register.getSingleMetric('synapse_shards_controller_moves_total')).toBeUndefined();
    // Every metric of the controller carries the prefix.
    const names = samples((await a.render()).body).map((line) => line.split(/[{ ]/)[0]!);
    expect(names.every((name) => name.startsWith('synapse_shards_controller_'))).toBe(true);
  });
});
