import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestWithHost } from '../../test/helpers/http-with-host.js';
import { StaticPlacementSource } from './placement-source.js';
import { Router } from './router.js';

/**
 * The router's line about each request, read from a pino destination stream: it carries the
 * `host` and, once the tenant is found, its `server_name`; the answers an operator looks into
 * (unknown host 404, 429, 503) are logged at `info`, the rest at `debug`.
 */

type LogLine = Record<string, unknown>;
const INFO = 30;
const DEBUG = 20;

describe('router log lines about requests', () => {
  let shard: Server;
  let router: Router;
  const lines: LogLine[] = [];
  const lineFor = (path: string) =>
    lines.filter((line) => line.msg === 'request' && line.path === path).at(-1);
  const get = (host: string, path: string) =>
    requestWithHost(`http://127.0.0.1:${router.port}`, { host, path: `${path}?access_token=x` });

  beforeAll(async () => {
    // A stand-in shard: its answer's status is the path's last segment.
    shard = createServer((req, res) => {
      const status = Number(req.url?.split('?')[0]?.split('/').at(-1)) || 200;
      res.writeHead(status, { 'Content-Type': 'application/json' }).end('{}');
    });
    shard.listen(0, '127.0.0.1');
    await once(shard, 'listening');
    const address = shard.address() as { port: number };
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const text of chunk.toString().split('\n')) {
          if (text.trim() !== '') lines.push(JSON.parse(text) as LogLine);
        }
        done();
      },
    });
    router = await Router.start({
      logger: pino({ level: 'debug' }, destination),
      listen: { host: '127.0.0.1', port: 0 },
      source: new StaticPlacementSource({
        version: 1,
        tenants: [
          {
            server_name: 'alpha.test',
            hostnames: ['matrix.alpha.test'],
            shard_id: 'shard-0',
            traffic_url: `http://127.0.0.1:${address.port}`,
          },
          { server_name: 'parked.test', hostnames: [], shard_id: null, traffic_url: null },
        ],
      }),
    });
  });

  afterAll(async () => {
    await router?.stop();
    shard?.close();
  });

  it('logs a request it proxied at debug, with host and server_name, never the query', async () => {
    expect((await get('Matrix.Alpha.Test:8448', '/ok/200')).status).toBe(200);
    expect(lineFor('/ok/200')).toMatchObject({
      level: DEBUG,
      host: 'matrix.alpha.test',
      server_name: 'alpha.test',
      shard: 'shard-0',
      status: 200,
    });
    expect(JSON.stringify(lines)).not.toContain('access_token');
  });

  it('logs an unknown host at info with the host', async () => {
    expect((await get('nowhere.test', '/unknown')).status).toBe(404);
    const line = lineFor('/unknown');
    expect(line).toMatchObject({ level: INFO, host: 'nowhere.test', status: 404 });
    expect(line).not.toHaveProperty('server_name');
  });

  it("logs a tenant's 429 and 503 at info with host and server_name", async () => {
    expect((await get('alpha.test', '/limited/429')).status).toBe(429);
    expect(lineFor('/limited/429')).toMatchObject({
      level: INFO,
      host: 'alpha.test',
      server_name: 'alpha.test',
      status: 429,
    });
    expect((await get('alpha.test', '/failed/503')).status).toBe(503);
    expect(lineFor('/failed/503')).toMatchObject({
      level: INFO,
      host: 'alpha.test',
      server_name: 'alpha.test',
      status: 503,
    });
    // The router's own 503, for a tenant on no shard.
    expect((await get('parked.test', '/parked')).status).toBe(503);
    expect(lineFor('/parked')).toMatchObject({
      level: INFO,
      host: 'parked.test',
      server_name: 'parked.test',
      status: 503,
    });
  });
});
