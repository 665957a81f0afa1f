import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import {
  createServer,
  request,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { tmpdir } from 'node:os';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import { requestWithHost } from '../helpers/http-with-host.js';
import { runMarina, startMarina, type MarinaProcess } from '../helpers/marina-process.js';
import { PlacementServerForTests } from '../helpers/placement-server-for-tests.js';

/**
 * A real `marina router` process between clients and small HTTP servers that stand in for shards
 * (they echo what they receive), fed by a stand-in for the controller's placement API: routing by
 * host, forwarding headers, the router's own errors, and placement changes while it runs.
 */

interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

/** A stand-in shard: answers `{backend, ...request}` and remembers what it saw. */
class EchoBackend {
  readonly seen: SeenRequest[] = [];
  /** Requests to `/hang`, which are never answered, resolve here once their client went away. */
  readonly hangingClosed: Promise<void>[] = [];
  private constructor(
    readonly name: string,
    private readonly server: Server,
  ) {}

  static async start(name: string): Promise<EchoBackend> {
    const server = createServer();
    const backend = new EchoBackend(name, server);
    server.on('request', (req, res) => backend.handle(req, res));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return backend;
  }

  get url(): string {
    const address = this.server.address();
    return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const seen = { method: req.method ?? '', path: req.url ?? '', headers: req.headers };
    this.seen.push(seen);
    if (req.url === '/hang') {
      this.hangingClosed.push(new Promise((resolve) => res.once('close', () => resolve())));
      return;
    }
    const delay = req.url === '/slow' ? 1_500 : 0;
    req.resume();
    req.on('end', () =>
      setTimeout(() => {
        const body = JSON.stringify({ backend: this.name, ...seen });
        res.writeHead(200, {
          'Content-Type': 'application/json',
          'X-Backend': this.name,
          'Proxy-Authenticate': 'Basic realm="hop"',
          'X-Backend-Hop': 'one hop only',
          Connection: 'X-Backend-Hop',
        });
        res.end(body);
      }, delay),
    );
  }
}

/**
 * A listener that never accepts: a process whose event loop is blocked, its accept queue filled,
 * so the kernel drops further connection attempts (a shard that hangs, or a dropped SYN).
 */
async function startBlackhole(): Promise<{ url: string; stop: () => void }> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '-e',
      `const s = require('net').createServer().listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
        process.stdout.write(s.address().port + '\\n');
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120000);
      });`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const [data] = (await once(child.stdout!, 'data')) as [Buffer];
  const port = Number(data.toString().trim());
  const fillers: Socket[] = [];
  for (let i = 0; i < 4; i += 1) {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    fillers.push(socket);
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => {
      for (const socket of fillers) socket.destroy();
      child.kill('SIGKILL');
    },
  };
}

describe('marina router routing', () => {
  let dir: string;
  let alphaBackend: EchoBackend;
  let betaBackend: EchoBackend;
  let placement: PlacementServerForTests;
  let router: MarinaProcess;
  let downUrl: string;
  let blackhole: { url: string; stop: () => void };
  const token = 'router-routing-admin-token';

  const tenants = () => [
    {
      server_name: 'alpha.test',
      hostnames: ['matrix.alpha.test'],
      shard_id: 'shard-a',
      traffic_url: alphaBackend.url,
    },
    { server_name: 'beta.test', shard_id: 'shard-b', traffic_url: betaBackend.url },
    { server_name: 'down.test', shard_id: 'shard-down', traffic_url: downUrl },
    { server_name: 'blackhole.test', shard_id: 'shard-hung', traffic_url: blackhole.url },
  ];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'marina-router-routing-'));
    alphaBackend = await EchoBackend.start('A');
    betaBackend = await EchoBackend.start('B');
    downUrl = `http://127.0.0.1:${await freePort()}`;
    blackhole = await startBlackhole();
    await writeFile(join(dir, 'token'), token);
    placement = await PlacementServerForTests.start(token, tenants());
    router = await startMarina([
      'router',
      '--listen',
      '127.0.0.1:0',
      '--controller',
      placement.url,
      '--token-file',
      join(dir, 'token'),
      '--trusted-proxy',
      '127.0.0.2',
      '--trusted-proxy',
      '10.0.0.0/8',
      '--connect-timeout-ms',
      '1500',
    ]);
  });

  afterAll(async () => {
    await router?.stop();
    await placement?.stop();
    await alphaBackend?.stop();
    await betaBackend?.stop();
    blackhole?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('routes by server_name and host names, keeping Host and adding X-Forwarded-*', async () => {
    const viaName = await requestWithHost(router.url, {
      path: '/a/b?c=d',
      host: 'Alpha.Test:8448',
    });
    expect(viaName.status).toBe(200);
    expect(viaName.json).toMatchObject({ backend: 'A', method: 'GET', path: '/a/b?c=d' });
    expect(viaName.json.headers).toMatchObject({
      host: 'Alpha.Test:8448',
      'x-forwarded-host': 'Alpha.Test:8448',
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'http',
    });
    expect(viaName.json.headers['x-request-id']).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);

    const viaHostname = await requestWithHost(router.url, { path: '/', host: 'matrix.alpha.test' });
    expect(viaHostname.json.backend).toBe('A');
    // Each request its own ID.
    expect(viaHostname.json.headers['x-request-id']).not.toBe(viaName.json.headers['x-request-id']);
    const beta = await requestWithHost(router.url, { path: '/', host: 'beta.test' });
    expect(beta.json.backend).toBe('B');
  });

  it('strips hop-by-hop headers both ways and passes the others', async () => {
    const response = await requestWithHost(router.url, {
      method: 'POST',
      path: '/echo',
      host: 'beta.test',
      body: { hello: 'world' },
      headers: {
        Connection: 'keep-alive, X-Client-Hop',
        'X-Client-Hop': 'one hop only',
        'Keep-Alive': 'timeout=5',
        'Proxy-Authorization': 'Basic c2VjcmV0',
        TE: 'trailers',
        'X-End-To-End': 'kept',
        Authorization: 'Bearer kept-too',
      },
    });
    const headers = response.json.headers as IncomingHttpHeaders;
    expect(headers['x-end-to-end']).toBe('kept');
    expect(headers.authorization).toBe('Bearer kept-too');
    expect(headers['content-type']).toBe('application/json');
    for (const hop of ['x-client-hop', 'keep-alive', 'proxy-authorization', 'te']) {
      expect(headers[hop], hop).toBeUndefined();
    }
    expect(response.headers['x-backend']).toBe('B');
    expect(response.headers['proxy-authenticate']).toBeUndefined();
    expect(response.headers['x-backend-hop']).toBeUndefined();
  });

  it('answers an unknown host at once with 404 M_NOT_FOUND', async () => {
    const started = Date.now();
    const response = await requestWithHost(router.url, {
      path: '/_matrix/client/versions',
      host: 'Nobody.Test:8008',
    });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(response.status).toBe(404);
    expect(response.json).toEqual({
      errcode: 'M_NOT_FOUND',
      error: 'No homeserver is served at host nobody.test',
    });
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.headers['access-control-allow-origin']).toBe('*');
  });

  it('never lets /_marina/ through, however it is spelled', async () => {
    const before = alphaBackend.seen.length;
    for (const path of [
      '/_marina/shard/v1/status',
      '/_marina/controller/v1/placement?since=1',
      '/%5Fmarina/shard/v1/status',
      '/_matrix/../_marina/shard/v1/status',
    ]) {
      const response = await requestWithHost(router.url, { path, host: 'alpha.test' });
      expect(response.status, path).toBe(404);
      expect(response.json, path).toEqual({
        errcode: 'M_UNRECOGNIZED',
        error: 'Unrecognized request',
      });
      expect(response.headers['access-control-allow-origin']).toBe('*');
    }
    expect(alphaBackend.seen.length).toBe(before);
  });

  it('answers 503 M_UNKNOWN with Retry-After when the shard cannot be reached, logging it once', async () => {
    for (let i = 0; i < 3; i += 1) {
      const started = Date.now();
      const response = await requestWithHost(router.url, { path: '/x', host: 'down.test' });
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(response.status).toBe(503);
      expect(response.json).toEqual({
        errcode: 'M_UNKNOWN',
        error: 'The homeserver down.test cannot be reached right now',
      });
      expect(response.headers['retry-after']).toBe('1');
      expect(response.headers['access-control-allow-origin']).toBe('*');
    }
    const warnings = router.logLines.filter((line) =>
      String(line.msg).startsWith('shard unreachable'),
    );
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ shard: 'shard-down', traffic_url: downUrl });
  });

  it('gives up connecting to a shard that does not answer, with 503', async () => {
    const started = Date.now();
    const response = await requestWithHost(router.url, { path: '/x', host: 'blackhole.test' });
    const elapsed = Date.now() - started;
    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
    expect(response.json.errcode).toBe('M_UNKNOWN');
    expect(elapsed).toBeGreaterThanOrEqual(1_400);
    expect(elapsed).toBeLessThan(5_000);
  });

  it('honours X-Forwarded-Host and extends X-Forwarded-For only from a trusted proxy', async () => {
    const forwarding = {
      'X-Forwarded-Host': 'matrix.alpha.test',
      'X-Forwarded-For': '203.0.113.7',
      'X-Forwarded-Proto': 'https',
    };
    const trusted = await requestWithHost(router.url, {
      path: '/',
      host: 'router.internal:8008',
      headers: forwarding,
      localAddress: '127.0.0.2',
    });
    expect(trusted.status).toBe(200);
    expect(trusted.json.backend).toBe('A');
    expect(trusted.json.headers).toMatchObject({
      host: 'matrix.alpha.test',
      'x-forwarded-host': 'matrix.alpha.test',
      'x-forwarded-for': '203.0.113.7, 127.0.0.2',
      'x-forwarded-proto': 'https',
    });

    const untrusted = await requestWithHost(router.url, {
      path: '/',
      host: 'router.internal:8008',
      headers: forwarding,
    });
    expect(untrusted.status).toBe(404);
    expect(untrusted.json.error).toBe('No homeserver is served at host router.internal');

    const spoofed = await requestWithHost(router.url, {
      path: '/',
      host: 'beta.test',
      headers: forwarding,
    });
    expect(spoofed.json.backend).toBe('B');
    expect(spoofed.json.headers).toMatchObject({
      host: 'beta.test',
      'x-forwarded-host': 'beta.test',
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'http',
    });
  });

  it('aborts the shard request when the client goes away', async () => {
    const hanging = alphaBackend.hangingClosed.length;
    const client = request({
      hostname: '127.0.0.1',
      port: new URL(router.url).port,
      path: '/hang',
      headers: { Host: 'alpha.test' },
    });
    client.on('error', () => {});
    client.end();
    await waitFor(() => alphaBackend.hangingClosed.length > hanging);
    client.destroy();
    const closed = alphaBackend.hangingClosed[hanging]!;
    await expect(withTimeout(closed, 2_000)).resolves.toBe('done');
  });

  it("holds a moving tenant's requests until the placement says the move is over", async () => {
    const moving = tenants().map((tenant) =>
      tenant.server_name === 'alpha.test' ? { ...tenant, moving: true } : tenant,
    );
    placement.publish(moving);
    // Once the router has it, it asks past that version.
    await waitFor(
      () => placement.queries.at(-1)?.get('since') === String(placement.currentVersion),
    );
    let answeredAt = 0;
    const held = requestWithHost(router.url, {
      method: 'POST',
      path: '/held',
      host: 'alpha.test',
      body: { kept: 'whole' },
    }).finally(() => (answeredAt = Date.now()));
    // Other tenants are not held.
    expect((await requestWithHost(router.url, { path: '/', host: 'beta.test' })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(answeredAt).toBe(0);
    const releasedAt = Date.now();
    placement.publish(tenants());
    const response = await held;
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({ backend: 'A', method: 'POST', path: '/held' });
    expect(answeredAt - releasedAt).toBeLessThan(1_000);
  });

  it('follows a placement change without a restart, finishing requests already under way', async () => {
    const slow = requestWithHost(router.url, { path: '/slow', host: 'alpha.test' });
    await waitFor(() => alphaBackend.seen.some((seen) => seen.path === '/slow'));
    const pid = router.child.pid;

    // alpha.test moves to B; nothing stays on A.
    placement.publish([
      {
        server_name: 'alpha.test',
        hostnames: ['matrix.alpha.test'],
        shard_id: 'shard-b',
        traffic_url: betaBackend.url,
      },
      { server_name: 'beta.test', shard_id: 'shard-b', traffic_url: betaBackend.url },
    ]);
    const started = Date.now();
    await waitFor(async () => {
      const response = await requestWithHost(router.url, { path: '/', host: 'alpha.test' });
      return response.json?.backend === 'B';
    });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(router.child.pid).toBe(pid);
    expect(router.child.exitCode).toBeNull();

    const slowResponse = await slow;
    expect(slowResponse.status).toBe(200);
    expect(slowResponse.json.backend).toBe('A');
    // Each poll names the router, and asks past the version it has applied.
    const routerIds = new Set(placement.queries.map((query) => query.get('router_id')));
    expect(routerIds.size).toBe(1);
    expect([...routerIds][0]).toMatch(/^[0-9a-f]{16}$/);
    expect(placement.queries.at(-1)?.get('since')).toBe(String(placement.currentVersion));
    // Tenants gone from the placement are unknown hosts now.
    const gone = await requestWithHost(router.url, { path: '/', host: 'down.test' });
    expect(gone.status).toBe(404);
  });

  it('keeps routing with the last placement while the controller is away, logging the outage once', async () => {
    // The router has a placement, and routes with it.
    const routed = await requestWithHost(router.url, { path: '/', host: 'beta.test' });
    expect(routed.json.backend).toBe('B');
    const warningsBefore = outageWarnings().length;
    placement.failWith(503);
    const failedBefore = placement.requests;
    await waitFor(() => placement.requests >= failedBefore + 3, 10_000);
    expect(outageWarnings().length).toBe(warningsBefore + 1);
    expect(outageWarnings().at(-1)?.err).toMatch(/503/);

    // A controller that is gone altogether (connection refused): still routing.
    const placementPort = placement.port;
    await placement.stop();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const during = await requestWithHost(router.url, { path: '/', host: 'beta.test' });
    expect(during.json.backend).toBe('B');
    expect(outageWarnings().length).toBe(warningsBefore + 1);

    // It comes back (same port, a newer placement without beta.test): taken, outage end logged.
    placement = await PlacementServerForTests.start(
      token,
      [{ server_name: 'alpha.test', shard_id: 'shard-a', traffic_url: alphaBackend.url }],
      { port: placementPort, version: 50 },
    );
    await waitFor(async () => {
      const response = await requestWithHost(router.url, { path: '/', host: 'beta.test' });
      return response.status === 404;
    }, 10_000);
    const alpha = await requestWithHost(router.url, { path: '/', host: 'alpha.test' });
    expect(alpha.json.backend).toBe('A');
    await waitFor(() => router.logLines.some((line) => line.msg === 'controller reachable again'));
    expect(outageWarnings().length).toBe(warningsBefore + 1);
  });

  function outageWarnings() {
    return router.logLines.filter(
      (line) => line.level === 40 && String(line.msg).includes('controller unreachable'),
    );
  }
});

describe('marina router finding the controller in a data directory, with a default tenant', () => {
  let dir: string;
  let backend: EchoBackend;
  let placement: PlacementServerForTests;
  let router: MarinaProcess;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'marina-router-default-'));
    backend = await EchoBackend.start('L');
    placement = await PlacementServerForTests.start('data-dir-token', [
      { server_name: 'localhost', shard_id: 'shard-1', traffic_url: backend.url },
    ]);
    // What a running controller leaves in its data directory.
    await mkdir(join(dir, 'controller'));
    await writeFile(join(dir, 'controller', 'admin-token'), 'data-dir-token\n', { mode: 0o600 });
    await writeFile(
      join(dir, 'controller', 'controller.json'),
      JSON.stringify({ url: placement.url, pid: process.pid }),
    );
    router = await startMarina([
      'router',
      '--listen',
      '127.0.0.1:0',
      '--data-dir',
      dir,
      '--default-tenant',
      'localhost',
    ]);
  });

  afterAll(async () => {
    await router?.stop();
    await placement?.stop();
    await backend?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("sends requests addressed by IP address to it, under the tenant's name", async () => {
    const response = await requestWithHost(router.url, { path: '/', host: '127.0.0.1:8008' });
    expect(response.status).toBe(200);
    expect(response.json.headers).toMatchObject({
      host: 'localhost',
      'x-forwarded-host': '127.0.0.1:8008',
    });
  });

  it('never sends it a host name that no tenant claims', async () => {
    const response = await requestWithHost(router.url, { path: '/', host: 'gone.localhost:8008' });
    expect(response.status).toBe(404);
    expect(response.json).toEqual({
      errcode: 'M_NOT_FOUND',
      error: 'No homeserver is served at host gone.localhost',
    });
  });

  it('refuses a trusted proxy that is not an address or a range', async () => {
    const result = await runMarina(['router', '--data-dir', dir, '--trusted-proxy', 'proxy.lan']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--trusted-proxy wants an IP address or a CIDR range');
  });
});

async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function withTimeout(promise: Promise<void>, ms: number): Promise<'done' | 'timeout'> {
  return Promise.race([
    promise.then(() => 'done' as const),
    new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), ms)),
  ]);
}
