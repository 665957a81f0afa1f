import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controllerAdmin, type ControllerAdmin } from '../helpers/controller-admin.js';
import { requestWithHost } from '../helpers/http-with-host.js';
import { runMarina, startMarina, type MarinaProcess } from '../helpers/marina-process.js';

/**
 * Under `marina up`, a host reaches only the tenant that claims it: a host never created, or
 * whose tenant was deleted, gets the router's 404 M_NOT_FOUND (never the default tenant
 * `localhost`, which serves only requests addressed to the router by IP address). And `marina
 * tenant list` / `show` report a tenant's state as it goes from hibernated to awake and back.
 */

const BRAVO = 'bravo.localhost';
/** Short, so that an idle tenant hibernates within the test. */
const IDLE_HIBERNATE_MS = 3_000;

const notServedAt = (host: string) => ({
  errcode: 'M_NOT_FOUND',
  error: `No homeserver is served at host ${host}`,
});

describe('marina up: which tenant a host reaches', () => {
  let dataDir: string;
  let marina: MarinaProcess;
  let port: string;
  let admin: ControllerAdmin;
  const cli = (args: string[]) => runMarina([...args, '--data-dir', dataDir]);
  /** The server_name of whoever answers at `host` (its signing keys say it), or its error. */
  const serverAt = async (host: string) => {
    const response = await requestWithHost(marina.url, { host, path: '/_matrix/key/v2/server' });
    return { status: response.status, body: response.json };
  };
  const listedState = async (serverName: string) => {
    const listed = await cli(['tenant', 'list', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    return (JSON.parse(listed.stdout) as { server_name: string; state: string }[]).find(
      (tenant) => tenant.server_name === serverName,
    )?.state;
  };
  const shownState = async (serverName: string) => {
    const shown = await cli(['tenant', 'show', serverName, '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    return (JSON.parse(shown.stdout) as { state?: string }).state;
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'marina-hosts-'));
    marina = await startMarina([
      'up',
      '--data-dir',
      dataDir,
      '--listen',
      '127.0.0.1:0',
      '--idle-hibernate-ms',
      String(IDLE_HIBERNATE_MS),
    ]);
    port = new URL(marina.url).port;
    admin = await controllerAdmin(dataDir);
  });

  afterAll(async () => {
    if (marina) expect(await marina.stop()).toBe(0);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('answers a host that names no tenant with 404 M_NOT_FOUND, not the default tenant', async () => {
    for (const host of ['nowhere.localhost', `nowhere.localhost:${port}`, 'example.org']) {
      expect(await serverAt(host)).toEqual({
        status: 404,
        body: notServedAt(host.split(':')[0]!),
      });
    }
  });

  it('still serves localhost by its name, and by the address clients connect to', async () => {
    for (const host of ['localhost', `localhost:${port}`, `127.0.0.1:${port}`, '[::1]']) {
      expect(await serverAt(host)).toMatchObject({
        status: 200,
        body: { server_name: 'localhost' },
      });
    }
  });

  it('reports a tenant hibernated, awake after a request, and hibernated when idle again', async () => {
    const created = await cli(['tenant', 'create', BRAVO, '--json']);
    expect(created.code, created.stderr).toBe(0);
    expect(await listedState(BRAVO)).toBe('hibernated');
    expect(await shownState(BRAVO)).toBe('hibernated');

    expect(await serverAt(BRAVO)).toMatchObject({ status: 200, body: { server_name: BRAVO } });
    // The admin API the CLI calls, asked at once (a CLI run may outlast the idle time).
    const listed = (await admin('GET', '/tenants')).body.tenants as { server_name: string }[];
    expect(listed.find((tenant) => tenant.server_name === BRAVO)).toMatchObject({ state: 'awake' });
    expect((await admin('GET', `/tenants/${BRAVO}`)).body).toMatchObject({
      server_name: BRAVO,
      state: 'awake',
    });

    const deadline = Date.now() + 15_000;
    while ((await listedState(BRAVO)) !== 'hibernated' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(await listedState(BRAVO)).toBe('hibernated');
    expect(await shownState(BRAVO)).toBe('hibernated');
  });

  it('answers the host of a deleted tenant with 404 M_NOT_FOUND', async () => {
    expect(await serverAt(BRAVO)).toMatchObject({ status: 200, body: { server_name: BRAVO } });
    const deleted = await cli(['tenant', 'delete', BRAVO]);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(await serverAt(BRAVO)).toEqual({ status: 404, body: notServedAt(BRAVO) });
    expect(await serverAt(`${BRAVO}:${port}`)).toEqual({ status: 404, body: notServedAt(BRAVO) });
  });
});
