import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UpgradeStatus } from '../../controller/tenant-admin.js';
import { formatTable } from './cli-output.js';
import { formatMoveResult, formatMoves, registerMovesCommand } from './moves.js';
import { noControllerMessage } from './running-controller.js';
import { formatDrain, formatShards } from './shard-admin.js';
import { SHARD_TOKEN_ENV, registerShardCommand } from './shard.js';
import { registerTenantCommands } from './tenant.js';
import {
  followUpgrade,
  formatUpgradeEnd,
  progressLine,
  registerUpgradeCommand,
} from './upgrade.js';

/**
 * The CLI commands for moves, shards and upgrades (docs/controller.md): how commander routes
 * them (`marina shard` both runs a shard and has subcommands), what they refuse, and what they
 * print. Running them against a real controller: test/integration/controller-cli-moves.test.ts.
 */

/** The program as src/cli/main.ts builds it, errors thrown instead of exiting the test. */
function program(): { program: Command; errors: () => string } {
  let errors = '';
  const root = new Command('marina')
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeErr: (text) => (errors += text), writeOut: () => {} });
  registerTenantCommands(root);
  registerShardCommand(root);
  registerMovesCommand(root);
  registerUpgradeCommand(root);
  return { program: root, errors: () => errors };
}

async function run(args: string[]): Promise<unknown> {
  const { program: root } = program();
  return root.parseAsync(args, { from: 'user' });
}

describe('marina shard, moves, upgrade, tenant move (commander)', () => {
  let dataDir: string;
  const savedToken = process.env[SHARD_TOKEN_ENV];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'marina-cli-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });
  afterEach(() => {
    if (savedToken === undefined) delete process.env[SHARD_TOKEN_ENV];
    else process.env[SHARD_TOKEN_ENV] = savedToken;
  });

  it('runs a shard when `marina shard` has no subcommand', async () => {
    // The shard's action is what reads the token: without one it stops right there.
    delete process.env[SHARD_TOKEN_ENV];
    await expect(
      run(['shard', '--data-dir', dataDir, '--shard-id', 'shard-0', '--listen', '127.0.0.1:0']),
    ).rejects.toThrow(`${SHARD_TOKEN_ENV} must hold the admin API's bearer token`);
  });

  it('still requires --shard-id to run a shard, but not for the subcommands', async () => {
    const { program: root, errors } = program();
    const failure = await root.parseAsync(['shard', '--data-dir', dataDir], { from: 'user' }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(CommanderError);
    expect(errors()).toContain("required option '--shard-id <id>' not specified");

    await expect(run(['shard', 'list', '--data-dir', dataDir])).rejects.toThrow(
      noControllerMessage(dataDir),
    );
  });

  it('takes the data directory after the subcommand or before it', async () => {
    await expect(run(['shard', '--data-dir', dataDir, 'list', '--json'])).rejects.toThrow(
      noControllerMessage(dataDir),
    );
    await expect(run(['shard', 'drain', 'shard-1', '--data-dir', dataDir])).rejects.toThrow(
      noControllerMessage(dataDir),
    );
  });

  it('says which data directory has no controller and how to start one', async () => {
    const message = noControllerMessage(dataDir);
    expect(message).toContain(dataDir);
    expect(message).toContain('marina up');
    expect(message).toContain('marina controller');
    for (const args of [
      ['tenant', 'move', 'alpha.localhost', '--to', 'shard-1'],
      ['moves', '--json'],
      ['upgrade', '--version', '0.2.0'],
    ]) {
      await expect(run([...args, '--data-dir', dataDir])).rejects.toThrow(message);
    }
  });

  it('refuses bad arguments before asking anything', async () => {
    await expect(run(['tenant', 'move', 'not a server', '--data-dir', dataDir])).rejects.toThrow(
      'is not a valid Matrix server name',
    );
    for (const args of [
      ['tenant', 'move', 'alpha.localhost', '--to', ''],
      ['shard', 'drain', 'shard 1'],
      ['shard', 'drain', '../shard-1'],
      ['upgrade', '--version', ''],
    ]) {
      await expect(run([...args, '--data-dir', dataDir])).rejects.toThrow(
        'expected a name without spaces or "/"',
      );
    }
    await expect(run(['shard', 'drain', '--data-dir', dataDir])).rejects.toThrow(
      "missing required argument 'shard_id'",
    );
    await expect(run(['tenant', 'move', '--data-dir', dataDir])).rejects.toThrow(
      "missing required argument 'server_name'",
    );
  });
});

describe('output of the controller commands', () => {
  it('lists shards as a table', () => {
    expect(
      formatShards([
        {
          shard_id: 'shard-0',
          version: '0.1.0',
          state: 'running',
          pid: 4242,
          admin_url: 'http://127.0.0.1:40001',
          traffic_url: 'http://127.0.0.1:40000',
          tenants: 12,
        },
        {
          shard_id: 'shard-10',
          version: '0.2.0',
          state: 'restarting',
          pid: null,
          admin_url: null,
          traffic_url: null,
          tenants: 3,
        },
      ]),
    ).toBe(
      'SHARD     VERSION  STATE       PID   TENANTS  TRAFFIC_URL\n' +
        'shard-0   0.1.0    running     4242  12       http://127.0.0.1:40000\n' +
        'shard-10  0.2.0    restarting  -     3        -\n',
    );
  });

  it('lists moves newest first, as the controller sends them, with times in UTC', () => {
    expect(
      formatMoves([
        {
          server_name: 'beta.localhost',
          from: 'shard-1',
          to: 'shard-0',
          reason: 'drain',
          started_ts: Date.UTC(2025, 0, 2, 3, 4, 5, 600),
          duration_ms: null,
          outcome: 'moving',
        },
        {
          server_name: 'alpha.localhost',
          from: 'shard-0',
          to: 'shard-1',
          reason: 'manual',
          started_ts: Date.UTC(2025, 0, 2, 3, 4, 0),
          duration_ms: 2051,
          outcome: 'failed',
          error: 'shard-1 did not take it',
        },
      ]),
    ).toBe(
      'STARTED                   SERVER_NAME      FROM     TO       REASON  DURATION  OUTCOME  ERROR\n' +
        '2025-01-02T03:04:05.600Z  beta.localhost   shard-1  shard-0  drain   -         moving\n' +
        '2025-01-02T03:04:00.000Z  alpha.localhost  shard-0  shard-1  manual  2051 ms   failed   shard-1 did not take it\n',
    );
    expect(formatMoves([])).toBe(
      'STARTED  SERVER_NAME  FROM  TO  REASON  DURATION  OUTCOME  ERROR\n',
    );
  });

  it('reports a move and a drain', () => {
    expect(
      formatMoveResult({
        server_name: 'alpha.localhost',
        from: 'shard-0',
        to: 'shard-1',
        duration_ms: 37,
      }),
    ).toBe('moved alpha.localhost from shard-0 to shard-1 in 37 ms\n');

    expect(
      formatDrain({
        shard_id: 'shard-0',
        moved: [
          { server_name: 'a.localhost', to: 'shard-1' },
          { server_name: 'b.localhost', to: 'shard-2' },
        ],
        failed: [],
      }),
    ).toEqual({
      stdout:
        'moved a.localhost to shard-1\nmoved b.localhost to shard-2\n' +
        'drained shard-0: 2 tenants moved; the shard retires\n',
      stderr: '',
    });
    expect(
      formatDrain({
        shard_id: 'shard-0',
        moved: [{ server_name: 'a.localhost', to: 'shard-1' }],
        failed: [{ server_name: 'b.localhost', error: 'no shard has room' }],
      }),
    ).toEqual({
      stdout: 'moved a.localhost to shard-1\n',
      stderr:
        'could not move b.localhost: no shard has room\n' +
        'shard-0 is not drained: 1 tenant could not be moved (1 moved)\n',
    });
  });

  it('pads table columns and never ends a line with spaces', () => {
    expect(
      formatTable([
        ['A', 'LONG', 'C'],
        ['wide cell', 'x', ''],
      ]),
    ).toBe('A          LONG  C\nwide cell  x\n');
  });
});

describe('following an upgrade', () => {
  const status = (state: UpgradeStatus['state'], tenantsLeft: number): UpgradeStatus => ({
    target_version: '0.2.0',
    state,
    shards_by_version: tenantsLeft > 0 ? { '0.1.0': 1, '0.2.0': 1 } : { '0.2.0': 2 },
    tenants_left: tenantsLeft,
  });

  it('asks until the controller is idle, reporting each new count of tenants left', async () => {
    const answers = [
      status('upgrading', 5),
      status('upgrading', 5),
      status('upgrading', 3),
      status('upgrading', 1),
      status('upgrading', 1),
      status('idle', 0),
    ];
    let asked = 0;
    const progress: string[] = [];
    const started = Date.now();
    const final = await followUpgrade(async () => answers[asked++]!, {
      intervalMs: 20,
      onProgress: (s) => progress.push(progressLine('0.2.0', s)),
    });
    expect(asked).toBe(6);
    // Five waits between six questions.
    expect(Date.now() - started).toBeGreaterThanOrEqual(5 * 20 - 5);
    expect(progress).toEqual([
      'upgrade to 0.2.0: 5 tenants left\n',
      'upgrade to 0.2.0: 3 tenants left\n',
      'upgrade to 0.2.0: 1 tenant left\n',
    ]);
    expect(final).toEqual(status('idle', 0));
    expect(formatUpgradeEnd('0.2.0', final)).toBe(
      'upgrade to 0.2.0 done; shards by version: 0.2.0=2\n',
    );
  });

  it('says when an upgrade ended with tenants left on old shards', async () => {
    const final = await followUpgrade(async () => status('idle', 2), {
      intervalMs: 1_000,
      onProgress: () => {
        throw new Error('nothing to report');
      },
    });
    expect(formatUpgradeEnd('0.2.0', final)).toBe(
      'upgrade to 0.2.0 stopped with 2 tenants left (see `marina moves`); ' +
        'shards by version: 0.1.0=1, 0.2.0=1\n',
    );
  });
});
