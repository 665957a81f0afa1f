import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startController, type ControllerProcess } from '../helpers/controller-process.js';
import { runMarina } from '../helpers/marina-process.js';

/**
 * The CLI for moves, shards and upgrades (`marina shard list|drain`, `marina tenant move`,
 * `marina moves`, `marina upgrade`) run as real processes against a real `marina controller`
 * with two real shard processes, which it starts with `marina shard --data-dir … --shard-id …`
 * (so `marina shard` without a subcommand still runs a shard). The tests run in order, on one
 * tenant: listed, moved there and back, drained off its shard, upgraded onto a new version.
 * (Clients that keep syncing through moves are the controller's and router's tests.)
 */

/** Each `marina` run starts a Node process: seconds apiece on a busy machine. */
const SLOW_MS = 180_000;

interface ShardJson {
  shard_id: string;
  version?: string;
  state: string;
  pid: number | null;
  admin_url: string | null;
  traffic_url: string | null;
  tenants: number;
}

describe('controller CLI: shards, moves, upgrades', () => {
  let dataDir: string;
  let emptyDir: string;
  let controller: ControllerProcess;
  const marina = (args: string[]) => runMarina([...args, '--data-dir', dataDir]);
  const shards = async (): Promise<ShardJson[]> =>
    (await controller.api('GET', '/shards')).body.shards as ShardJson[];
  const placement = async (): Promise<{ server_name: string; shard_id: string }[]> =>
    (await controller.api('GET', '/placement')).body.tenants;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'marina-cli-moves-'));
    emptyDir = await mkdtemp(join(tmpdir(), 'marina-cli-none-'));
    controller = await startController(dataDir, ['--shards', '2']);
  });

  afterAll(async () => {
    await controller?.stop();
    await rm(dataDir, { recursive: true, force: true });
    await rm(emptyDir, { recursive: true, force: true });
  });

  it(
    'lists the shards the controller runs, as JSON and as a table',
    async () => {
      const created = await marina(['tenant', 'create', 'alpha.localhost', '--json']);
      expect(created.code).toBe(0);
      const placedOn = (JSON.parse(created.stdout) as { shard_id: string }).shard_id;

      const listed = await marina(['shard', 'list', '--json']);
      expect(listed.code, listed.stderr).toBe(0);
      const shards = JSON.parse(listed.stdout) as ShardJson[];
      expect(shards).toEqual((await controller.api('GET', '/shards')).body.shards);
      expect(shards.map((s) => [s.shard_id, s.state])).toEqual([
        ['shard-0', 'running'],
        ['shard-1', 'running'],
      ]);
      expect(shards.find((s) => s.shard_id === placedOn)?.tenants).toBe(1);
      expect(shards.reduce((sum, s) => sum + s.tenants, 0)).toBe(1);

      const table = await marina(['shard', 'list']);
      expect(table.code, table.stderr).toBe(0);
      const [header, ...rows] = table.stdout.trimEnd().split('\n');
      expect(header!.split(/\s+/)).toEqual([
        'SHARD',
        'VERSION',
        'STATE',
        'PID',
        'TENANTS',
        'TRAFFIC_URL',
      ]);
      expect(rows.map((row) => row.split(/\s+/))).toEqual(
        shards.map((s) => [
          s.shard_id,
          s.version || '-',
          s.state,
          String(s.pid),
          String(s.tenants),
          s.traffic_url,
        ]),
      );
    },
    SLOW_MS,
  );

  it('takes --data-dir before the subcommand too', async () => {
    const listed = await runMarina(['shard', '--data-dir', dataDir, 'list', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    expect((JSON.parse(listed.stdout) as ShardJson[]).map((s) => s.shard_id)).toEqual([
      'shard-0',
      'shard-1',
    ]);
  });

  it(
    'moves a tenant to a named shard and back, and refuses impossible moves',
    async () => {
      const from = (await placement()).find((t) => t.server_name === 'alpha.localhost')!.shard_id;
      const other = from === 'shard-0' ? 'shard-1' : 'shard-0';

      const moved = await marina(['tenant', 'move', 'alpha.localhost', '--to', other, '--json']);
      expect(moved.code, moved.stderr).toBe(0);
      expect(JSON.parse(moved.stdout)).toEqual({
        server_name: 'alpha.localhost',
        from,
        to: other,
        duration_ms: expect.any(Number),
      });
      expect((await placement()).find((t) => t.server_name === 'alpha.localhost')).toMatchObject({
        shard_id: other,
      });

      const back = await marina(['tenant', 'move', 'alpha.localhost', '--to', from]);
      expect(back.code, back.stderr).toBe(0);
      expect(back.stdout).toMatch(
        new RegExp(`^moved alpha\\.localhost from ${other} to ${from} in \\d+ ms\\n$`),
      );

      // The controller's refusals reach the operator, with a failing exit code.
      const [nowhere, nobody] = await Promise.all([
        marina(['tenant', 'move', 'alpha.localhost', '--to', 'shard-77']),
        marina(['tenant', 'move', 'nobody.localhost']),
      ]);
      expect(nowhere.code).toBe(1);
      expect(nowhere.stdout).toBe('');
      expect(nowhere.stderr).toMatch(/^marina: .*shard-77/);
      expect(nobody.code).toBe(1);
      expect(nobody.stderr).toMatch(/^marina: .*nobody\.localhost/);

      const [moves, table] = await Promise.all([marina(['moves', '--json']), marina(['moves'])]);
      expect(moves.code, moves.stderr).toBe(0);
      const listed = JSON.parse(moves.stdout) as Record<string, unknown>[];
      expect(listed.slice(0, 2)).toEqual([
        expect.objectContaining({ server_name: 'alpha.localhost', from: other, to: from }),
        expect.objectContaining({ server_name: 'alpha.localhost', from, to: other }),
      ]);
      for (const move of listed.slice(0, 2)) {
        expect(move).toMatchObject({
          reason: 'manual',
          outcome: 'done',
          started_ts: expect.any(Number),
          duration_ms: expect.any(Number),
        });
      }
      expect(table.code, table.stderr).toBe(0);
      const rows = table.stdout.trimEnd().split('\n');
      expect(rows[0]!.split(/\s+/)).toEqual([
        'STARTED',
        'SERVER_NAME',
        'FROM',
        'TO',
        'REASON',
        'DURATION',
        'OUTCOME',
        'ERROR',
      ]);
      expect(rows[1]!.split(/\s+/).slice(1)).toEqual([
        'alpha.localhost',
        other,
        from,
        'manual',
        String(listed[0]!.duration_ms),
        'ms',
        'done',
      ]);
    },
    SLOW_MS,
  );

  it(
    'drains a shard: its tenants move off and its process stops',
    async () => {
      const holder = (await placement()).find((t) => t.server_name === 'alpha.localhost')!.shard_id;
      const pid = (await shards()).find((s) => s.shard_id === holder)!.pid!;

      const drained = await marina(['shard', 'drain', holder, '--json']);
      expect(drained.code, drained.stderr).toBe(0);
      const result = JSON.parse(drained.stdout) as {
        shard_id: string;
        moved: { server_name: string; to: string }[];
        failed: unknown[];
      };
      expect(result).toMatchObject({ shard_id: holder, failed: [] });
      expect(result.moved).toEqual([{ server_name: 'alpha.localhost', to: expect.any(String) }]);
      expect(result.moved[0]!.to).not.toBe(holder);
      expect((await placement()).find((t) => t.server_name === 'alpha.localhost')).toMatchObject({
        shard_id: result.moved[0]!.to,
      });
      expect(processExists(pid)).toBe(false);

      const unknown = await marina(['shard', 'drain', 'shard-77']);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toMatch(/^marina: .*shard-77/);
    },
    SLOW_MS,
  );

  it(
    'upgrades every tenant onto shards of a new version, showing progress',
    async () => {
      // Without --version: the installed version, which this controller runs already.
      const nothing = await marina(['upgrade']);
      expect(nothing.code, nothing.stderr).toBe(0);
      const ownVersion = (await controller.api('GET', '/upgrade')).body.target_version as string;
      expect(nothing.stderr).toBe(`upgrade to ${ownVersion}: 0 tenants to move\n`);
      expect(nothing.stdout).toMatch(
        new RegExp(`^upgrade to ${ownVersion} done; shards by version: `),
      );

      const target = `${ownVersion}-next`;
      const upgraded = await marina(['upgrade', '--version', target, '--json']);
      expect(upgraded.code, upgraded.stderr).toBe(0);
      const progress = upgraded.stderr.trimEnd().split('\n');
      expect(progress[0]).toBe(`upgrade to ${target}: 1 tenant to move`);
      for (const line of progress.slice(1)) {
        expect(line).toMatch(new RegExp(`^upgrade to ${target}: \\d+ tenants? left$`));
      }
      const final = JSON.parse(upgraded.stdout) as Record<string, unknown>;
      expect(final).toMatchObject({ target_version: target, state: 'idle', tenants_left: 0 });
      expect(Object.keys(final.shards_by_version as object)).toEqual([target]);

      const listed = await marina(['shard', 'list', '--json']);
      const after = JSON.parse(listed.stdout) as ShardJson[];
      expect(after.length).toBeGreaterThan(0);
      expect(after.every((s) => s.version === target)).toBe(true);
      const moves = JSON.parse((await marina(['moves', '--json'])).stdout) as { reason: string }[];
      expect(moves[0]).toMatchObject({ server_name: 'alpha.localhost', reason: 'upgrade' });
    },
    2 * SLOW_MS,
  );

  it('counts those moves and reports its shards in its metrics, without a token', async () => {
    const response = await fetch(`${controller.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const lines = (await response.text()).split('\n').filter((l) => l && !l.startsWith('#'));
    // The upgrade test moved everything to "<own version>-next".
    const target = (await controller.api('GET', '/upgrade')).body.target_version as string;
    const ownVersion = target.replace(/-next$/, '');
    expect(lines).toEqual(
      expect.arrayContaining([
        'synapse_shards_controller_moves_total{reason="manual",outcome="done"} 2',
        'synapse_shards_controller_moves_total{reason="drain",outcome="done"} 1',
        'synapse_shards_controller_moves_total{reason="upgrade",outcome="done"} 1',
        'synapse_shards_controller_move_duration_seconds_count{reason="manual"} 2',
        'synapse_shards_controller_tenants{state="placed"} 1',
        'synapse_shards_controller_tenants{state="moving"} 0',
        'synapse_shards_controller_pending_shards_full 0',
        `synapse_shards_controller_info{version="${ownVersion}"} 1`,
        ...(await shards()).map(
          (s) =>
            `synapse_shards_controller_shard_tenants{shard_id="${s.shard_id}",version="${target}"} ${s.tenants}`,
        ),
      ]),
    );
  });

  it(
    'says, without a running controller, which data directory has none and how to start one',
    async () => {
      const commands = [
        ['shard', 'list'],
        ['shard', 'drain', 'shard-0'],
        ['tenant', 'move', 'alpha.localhost'],
        ['moves'],
        ['upgrade', '--json'],
      ];
      const results = await Promise.all(
        commands.map((args) => runMarina([...args, '--data-dir', emptyDir])),
      );
      results.forEach((result, index) => {
        expect(result.code, commands[index]!.join(' ')).toBe(1);
        expect(result.stdout).toBe('');
        expect(result.stderr).toContain(`no controller runs on the data directory ${emptyDir}`);
        expect(result.stderr).toContain(`marina up --data-dir ${emptyDir}`);
        expect(result.stderr).toContain(`marina controller --data-dir ${emptyDir}`);
      });
    },
    SLOW_MS,
  );
});

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
