import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestWithHost } from '../../test/helpers/http-with-host.js';
import { TestCa } from '../../test/helpers/test-certificates.js';
import { StaticPlacementSource } from './placement-source.js';
import { Router } from './router.js';

/**
 * What federation needs of the router: a host that is none of its tenants is answered with the
 * `X-Marina-Unknown-Host` marker (so a tenant of the deployment falls back to Internet
 * discovery), and the same routing is served over HTTPS on a second listener.
 */
describe('router: federation transport and TLS termination', () => {
  let shard: Server;
  let router: Router;
  let ca: TestCa;
  const seen: IncomingHttpHeaders[] = [];

  beforeAll(async () => {
    ca = TestCa.create();
    const certificate = ca.issue(['alpha.test', 'bravo.test']);
    shard = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ host: req.headers.host, url: req.url }));
    });
    shard.listen(0, '127.0.0.1');
    await once(shard, 'listening');
    const { port } = shard.address() as { port: number };
    router = await Router.start({
      logger: pino({ level: 'silent' }),
      listen: { host: '127.0.0.1', port: 0 },
      defaultTenant: 'alpha.test',
      tls: {
        cert: certificate.cert,
        key: certificate.key,
        listen: { host: '127.0.0.1', port: 0 },
      },
      source: new StaticPlacementSource({
        version: 1,
        tenants: [
          {
            server_name: 'alpha.test',
            hostnames: [],
            shard_id: 's1',
            traffic_url: `http://127.0.0.1:${port}`,
          },
        ],
      }),
    });
  });

  afterAll(async () => {
    await router.stop();
    shard.closeAllConnections();
    await new Promise((resolve) => shard.close(resolve));
    ca.dispose();
  });

  it('routes a request whose Host is a tenant (with the federation port) to its shard', async () => {
    const response = await requestWithHost(`http://127.0.0.1:${router.port}`, {
      host: 'alpha.test:8448',
      path: '/_matrix/federation/v1/version',
    });
    expect(response.status).toBe(200);
    expect(response.json).toEqual({
      host: 'alpha.test:8448',
      url: '/_matrix/federation/v1/version',
    });
    expect(response.headers['x-marina-unknown-host']).toBeUndefined();
  });

  it('marks the answer for a host that is none of its tenants', async () => {
    const response = await requestWithHost(`http://127.0.0.1:${router.port}`, {
      host: 'elsewhere.example',
      path: '/_matrix/federation/v1/version',
    });
    expect(response.status).toBe(404);
    expect(response.json.errcode).toBe('M_NOT_FOUND');
    expect(response.headers['x-marina-unknown-host']).toBe('1');
  });

  it('serves the same routing over HTTPS, telling the shard the client used https', async () => {
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port: router.tlsPort,
          path: '/_matrix/key/v2/server',
          servername: 'alpha.test',
          headers: { host: 'alpha.test' },
          ca: ca.cert,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
          );
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ host: 'alpha.test', url: '/_matrix/key/v2/server' });
    expect(seen.at(-1)?.['x-forwarded-proto']).toBe('https');
  });

  it('the HTTPS listener marks unknown hosts too', async () => {
    const status = await new Promise<{ status: number; marker: unknown }>((resolve, reject) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port: router.tlsPort,
          path: '/',
          servername: 'bravo.test',
          headers: { host: 'bravo.test' },
          ca: ca.cert,
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, marker: res.headers['x-marina-unknown-host'] }),
          );
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(status).toEqual({ status: 404, marker: '1' });
  });
});
