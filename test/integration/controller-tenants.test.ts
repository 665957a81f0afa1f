import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startController, type ControllerProcess } from '../helpers/controller-process.js';
import { requestWithHost } from '../helpers/http-with-host.js';
import { runMarina } from '../helpers/marina-process.js';

/**
 * A real `marina controller` with two real shard processes; `marina tenant …` and `marina user
 * create` run against it while it serves.
 */

interface ShardInfo {
  shard_id: string;
  state: string;
  pid: number | null;
  traffic_url: string | null;
  tenants: number;
}

interface PlacementBody {
  version: number;
  tenants: { server_name: string; hostnames: string[]; shard_id: string; traffic_url: string }[];
}

describe('marina controller with two shards', () => {
  let dataDir: string;
  let controller: ControllerProcess;
  const marina = (args: string[], stdin?: string) =>
    runMarina([...args, '--data-dir', dataDir], { stdin });

  const shards = async (): Promise<ShardInfo[]> =>
    ((await controller.api('GET', '/shards')).body as { shards: ShardInfo[] }).shards;
  const placement = async (): Promise<PlacementBody> =>
    (await controller.api('GET', '/placement')).body as PlacementBody;
  const placedOn = async (serverName: string) =>
    (await placement()).tenants.find((t) => t.server_name === serverName);
  /** The shard holding the fewest tenants (ties: the first), as placement should pick it. */
  const leastLoaded = async () =>
    (await shards()).reduce((best, shard) => (shard.tenants < best.tenants ? shard : best))
      .shard_id;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'marina-controller-'));
    controller = await startController(dataDir, ['--shards', '2']);
  });

  afterAll(async () => {
    await controller?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps its admin token private and says where it listens in controller.json', async () => {
    const tokenFile = join(dataDir, 'controller', 'admin-token');
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);
    const file = JSON.parse(await readFile(join(dataDir, 'controller', 'controller.json'), 'utf8'));
    expect(file).toEqual({ url: controller.url, pid: controller.child.pid });
    expect(new URL(controller.url).hostname).toBe('127.0.0.1');
    expect((await shards()).map((s) => [s.shard_id, s.state])).toEqual([
      ['shard-0', 'running'],
      ['shard-1', 'running'],
    ]);
  });

  it('refuses admin API calls without the right token', async () => {
    for (const headers of [{}, { Authorization: 'Bearer wrong' }] as Record<string, string>[]) {
      for (const path of ['/tenants', '/placement', '/shards']) {
        const response = await fetch(`${controller.url}/_marina/controller/v1${path}`, {
          headers,
        });
        expect(response.status).toBe(401);
        expect(await response.json()).toMatchObject({ errcode: 'M_UNKNOWN_TOKEN' });
      }
    }
    const create = await fetch(`${controller.url}/_marina/controller/v1/tenants`, {
      method: 'POST',
      headers: { Authorization: 'Bearer wrong', 'Content-Type': 'application/json' },
      body: JSON.stringify({ server_name: 'sneaky.localhost' }),
    });
    expect(create.status).toBe(401);
    expect((await controller.api('GET', '/tenants/sneaky.localhost')).status).toBe(404);
  });

  it('creates, lists, shows and deletes tenants from the CLI while it runs', async () => {
    const created = await marina([
      'tenant',
      'create',
      'alpha.localhost',
      '--hostname',
      'chat.alpha.localhost',
      '--registration',
      'open',
      '--json',
    ]);
    expect(created.code).toBe(0);
    const settings = JSON.parse(created.stdout);
    expect(settings).toMatchObject({
      server_name: 'alpha.localhost',
      hostnames: ['chat.alpha.localhost'],
      registration_mode: 'open',
      shard_id: expect.stringMatching(/^shard-[01]$/),
    });
    expect(settings.registration_shared_secret.length).toBeGreaterThanOrEqual(32);

    // It serves at once, on its shard, by its server_name and its host name.
    const placed = await placedOn('alpha.localhost');
    expect(placed).toMatchObject({
      shard_id: settings.shard_id,
      hostnames: ['chat.alpha.localhost'],
    });
    for (const host of ['alpha.localhost', 'chat.alpha.localhost']) {
      const versions = await requestWithHost(placed!.traffic_url, {
        host,
        path: '/_matrix/client/versions',
      });
      expect(versions.status).toBe(200);
    }
    const registered = await requestWithHost(placed!.traffic_url, {
      host: 'alpha.localhost',
      method: 'POST',
      path: '/_matrix/client/v3/register',
      body: { username: 'ann', password: 'ann secret pw', auth: { type: 'm.login.dummy' } },
    });
    expect(registered.status).toBe(200);
    expect(registered.json.user_id).toBe('@ann:alpha.localhost');

    const shown = await marina(['tenant', 'show', 'alpha.localhost', '--json']);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      server_name: 'alpha.localhost',
      shard_id: settings.shard_id,
      registration_shared_secret: settings.registration_shared_secret,
      signing_key_id: expect.stringMatching(/^ed25519:/),
    });

    const listed = await marina(['tenant', 'list', '--json']);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toContainEqual({
      server_name: 'alpha.localhost',
      hostnames: ['chat.alpha.localhost'],
      shard_id: settings.shard_id,
      state: 'awake',
    });
    const table = await marina(['tenant', 'list']);
    expect(table.stdout).toMatch(/^alpha\.localhost +shard-[01] +awake +chat\.alpha\.localhost$/m);

    const deleted = await marina(['tenant', 'delete', 'alpha.localhost']);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toContain('deleted tenant alpha.localhost; its data is kept in');
    // Gone from the placement and from its shard at once; its data kept aside.
    expect(await placedOn('alpha.localhost')).toBeUndefined();
    const after = await requestWithHost(placed!.traffic_url, {
      host: 'alpha.localhost',
      path: '/_matrix/client/versions',
    });
    expect(after.status).toBe(404);
    expect(after.json).toMatchObject({ errcode: 'M_NOT_FOUND' });
    const kept = /kept in (.+)$/m.exec(deleted.stdout)![1]!;
    expect((await stat(join(kept, 'homeserver.db'))).isFile()).toBe(true);

    const again = await marina(['tenant', 'show', 'alpha.localhost']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('no tenant alpha.localhost');
  });

  it('creates an account with the contract form of `marina user create`', async () => {
    const created = await marina(['tenant', 'create', 'users.localhost', '--json']);
    expect(created.code).toBe(0);
    const made = await marina([
      'user',
      'create',
      'users.localhost',
      'bob',
      '--password',
      'bob secret pw',
      '--admin',
    ]);
    expect(made).toMatchObject({ code: 0, stdout: '@bob:users.localhost\n' });
    const placed = await placedOn('users.localhost');
    const login = await requestWithHost(placed!.traffic_url, {
      host: 'users.localhost',
      method: 'POST',
      path: '/_matrix/client/v3/login',
      body: {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user: 'bob' },
        password: 'bob secret pw',
      },
    });
    expect(login.status).toBe(200);
    expect(login.json.user_id).toBe('@bob:users.localhost');
  });

  it('places each new tenant on the least-loaded shard', async () => {
    const names = ['p1.localhost', 'p2.localhost', 'p3.localhost', 'p4.localhost'];
    for (const name of names) {
      const expected = await leastLoaded();
      const created = await controller.api('POST', '/tenants', { server_name: name });
      expect(created.status).toBe(200);
      expect(created.body.shard_id).toBe(expected);
    }
    // Emptying one shard of these sends the next tenants there, not round-robin.
    const loads = await shards();
    const [fuller, emptier] =
      loads[0]!.tenants >= loads[1]!.tenants ? [loads[0]!, loads[1]!] : [loads[1]!, loads[0]!];
    const onFuller = (await placement()).tenants.filter(
      (t) => t.shard_id === fuller.shard_id && names.includes(t.server_name),
    );
    for (const tenant of onFuller) {
      expect(
        (await controller.api('DELETE', `/tenants/${tenant.server_name}?purge=true`)).status,
      ).toBe(200);
    }
    const lighter = (await shards()).find((s) => s.shard_id === fuller.shard_id)!;
    expect(lighter.tenants).toBeLessThan(emptier.tenants);
    const next = await controller.api('POST', '/tenants', { server_name: 'p5.localhost' });
    expect(next.body.shard_id).toBe(fuller.shard_id);
  });

  it('answers a /placement long-poll when the placement changes, or at the timeout', async () => {
    const { version } = await placement();
    const started = Date.now();
    const quiet = await controller.api('GET', `/placement?since=${version}&timeout=400`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(quiet.body.version).toBe(version);

    let answered = false;
    const waiting = controller
      .api('GET', `/placement?since=${version}&timeout=60000`)
      .then((response) => {
        answered = true;
        return response;
      });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(answered).toBe(false);
    const changeAt = Date.now();
    expect(
      (await controller.api('POST', '/tenants', { server_name: 'poll.localhost' })).status,
    ).toBe(200);
    const changed = await waiting;
    expect(Date.now() - changeAt).toBeLessThan(10_000);
    expect(changed.status).toBe(200);
    expect(changed.body.version).toBeGreaterThan(version);
    expect(changed.body.tenants).toContainEqual(
      expect.objectContaining({ server_name: 'poll.localhost', hostnames: ['poll.localhost'] }),
    );
  });

  it('answers bad requests with Matrix errors', async () => {
    expect(await controller.api('POST', '/tenants', { server_name: 'not a name' })).toMatchObject({
      status: 400,
      body: { errcode: 'M_INVALID_PARAM' },
    });
    expect(await controller.api('POST', '/tenants', {})).toMatchObject({
      status: 400,
      body: { errcode: 'M_MISSING_PARAM' },
    });
    expect(
      await controller.api('POST', '/tenants', {
        server_name: 'x.localhost',
        registration: 'maybe',
      }),
    ).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    expect(await controller.api('POST', '/tenants', { server_name: 'users.localhost' })).toEqual({
      status: 409,
      body: { errcode: 'M_UNKNOWN', error: 'tenant users.localhost already exists' },
    });
    expect(
      await controller.api('POST', '/tenants', {
        server_name: 'other.localhost',
        hostnames: ['users.localhost'],
      }),
    ).toMatchObject({ status: 409, body: { errcode: 'M_UNKNOWN' } });
    expect(await controller.api('GET', '/tenants/nobody.localhost')).toMatchObject({
      status: 404,
      body: { errcode: 'M_NOT_FOUND' },
    });
    expect(await controller.api('DELETE', '/tenants/nobody.localhost')).toMatchObject({
      status: 404,
      body: { errcode: 'M_NOT_FOUND' },
    });
    expect(await controller.api('GET', '/placement?since=soon')).toMatchObject({
      status: 400,
      body: { errcode: 'M_INVALID_PARAM' },
    });
    const cli = await marina(['tenant', 'create', 'users.localhost']);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain('tenant users.localhost already exists');
    // Nothing was left half-created by the refusals.
    expect((await controller.api('GET', '/tenants/other.localhost')).status).toBe(404);
  });

  it('restarts a shard that dies and hands it its tenants again, data intact', async () => {
    const before = await placedOn('users.localhost');
    const shard = (await shards()).find((s) => s.shard_id === before!.shard_id)!;
    const { version } = await placement();
    process.kill(shard.pid!, 'SIGKILL');

    // The new process gets another address: the placement moves to it.
    let now: PlacementBody = await placement();
    const deadline = Date.now() + 60_000;
    while (
      now.tenants.find((t) => t.server_name === 'users.localhost')?.traffic_url ===
        before!.traffic_url &&
      Date.now() < deadline
    ) {
      now = (await controller.api('GET', `/placement?since=${now.version}&timeout=10000`))
        .body as PlacementBody;
    }
    expect(now.version).toBeGreaterThan(version);
    const after = now.tenants.find((t) => t.server_name === 'users.localhost')!;
    expect(after.shard_id).toBe(before!.shard_id);
    expect(after.traffic_url).not.toBe(before!.traffic_url);
    const restarted = (await shards()).find((s) => s.shard_id === before!.shard_id)!;
    expect(restarted.state).toBe('running');
    expect(restarted.pid).not.toBe(shard.pid);

    const login = await requestWithHost(after.traffic_url, {
      host: 'users.localhost',
      method: 'POST',
      path: '/_matrix/client/v3/login',
      body: {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user: 'bob' },
        password: 'bob secret pw',
      },
    });
    expect(login.status).toBe(200);
    expect(
      controller.logLines.some(
        (line) =>
          line.shard_id === before!.shard_id &&
          String(line.msg).includes('exited unexpectedly (signal SIGKILL)'),
      ),
    ).toBe(true);
  });

  it('stops its shards and removes controller.json on SIGTERM', async () => {
    const pids = (await shards()).map((s) => s.pid!);
    expect(await controller.stop()).toBe(0);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    await expect(stat(join(dataDir, 'controller', 'controller.json'))).rejects.toThrow();
    // With nothing running, the CLI reads the registry itself.
    const listed = await marina(['tenant', 'list', '--json']);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toContainEqual(
      expect.objectContaining({ server_name: 'users.localhost', state: 'stopped' }),
    );
  });
});
