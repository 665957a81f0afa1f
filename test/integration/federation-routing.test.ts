import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RouterFederationTransport } from '../../src/shard/router-federation-transport.js';
import { startController } from '../helpers/controller-process.js';
import { requestWithHost } from '../helpers/http-with-host.js';
import { startMarinaUp, type MarinaUp } from '../helpers/marina-up.js';
import { TestCa } from '../helpers/test-certificates.js';

/**
 * Deployment routing under a real `marina up`: its shards are told the router's URL
 * (`--federation-router`), a request sent there with a tenant's name as `Host` reaches that
 * tenant, an unknown host comes back marked so the sender uses Internet discovery instead; and
 * the router also serves over HTTPS (`--tls-cert`, `--tls-key`, `--tls-listen`).
 */
describe('marina up: federation routing between tenants, and TLS', () => {
  let up: MarinaUp;
  let ca: TestCa;
  let routerUrl: string;

  beforeAll(async () => {
    ca = TestCa.create();
    const certificate = ca.issue(['alpha.localhost', 'localhost']);
    up = await startMarinaUp([
      '--tls-cert',
      certificate.certFile,
      '--tls-key',
      certificate.keyFile,
      '--tls-listen',
      '127.0.0.1:0',
    ]);
    await up.createTenant('alpha.localhost');
    const shardLine = up.marina.logLines.find((line) => line.msg === 'shard listening');
    routerUrl = String(shardLine?.federation_router);
  }, 90_000);

  afterAll(async () => {
    await up?.stop();
    ca?.dispose();
  });

  it("gives the shards the router's URL", () => {
    expect(routerUrl).toBe(`http://127.0.0.1:${up.port}`);
  });

  it('reaches another tenant through the router by its server name', async () => {
    const transport = new RouterFederationTransport(routerUrl);
    const base = await transport.deploymentUrlOf('alpha.localhost');
    expect(base).toBe(routerUrl);
    const response = await requestWithHost(base as string, {
      host: 'alpha.localhost',
      path: '/_matrix/key/v2/server',
    });
    expect(response.status).toBe(200);
    expect(response.json.server_name).toBe('alpha.localhost');
  });

  it('marks an unknown host, after which the transport goes by the Internet', async () => {
    const transport = new RouterFederationTransport(routerUrl);
    const response = await requestWithHost(routerUrl, {
      host: 'matrix.example.org',
      path: '/_matrix/federation/v1/version',
    });
    expect(response.status).toBe(404);
    expect(response.json.errcode).toBe('M_NOT_FOUND');
    expect(response.headers['x-marina-unknown-host']).toBe('1');
    transport.notInDeployment('matrix.example.org');
    expect(await transport.deploymentUrlOf('matrix.example.org')).toBeUndefined();
  });

  it('serves the tenants over HTTPS on the TLS listener', async () => {
    const line = up.marina.logLines.find((entry) => typeof entry.tls_listening === 'string');
    const tlsPort = Number(new URL(String(line?.tls_listening)).port);
    const body = await new Promise<{ status: number; json: { server_name?: string } }>(
      (resolve, reject) => {
        const req = httpsRequest(
          {
            host: '127.0.0.1',
            port: tlsPort,
            path: '/_matrix/key/v2/server',
            servername: 'alpha.localhost',
            headers: { host: 'alpha.localhost' },
            ca: ca.cert,
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                json: JSON.parse(Buffer.concat(chunks).toString()) as { server_name?: string },
              }),
            );
          },
        );
        req.on('error', reject);
        req.end();
      },
    );
    expect(body).toMatchObject({ status: 200, json: { server_name: 'alpha.localhost' } });
  });
});

describe('marina controller --router-url', () => {
  it('starts its shards with --federation-router', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'marina-controller-'));
    const controller = await startController(dataDir, ['--router-url', 'http://127.0.0.1:8008']);
    try {
      // Shards that outlive their controller log to DIR/logs/<shard_id>.log.
      const log = await readFile(join(dataDir, 'logs', 'shard-0.log'), 'utf8');
      const shardLine = log
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .find((line) => line.msg === 'shard listening');
      expect(shardLine?.federation_router).toBe('http://127.0.0.1:8008');
    } finally {
      await controller.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 90_000);

  it('refuses a router URL that is not http://HOST:PORT', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'marina-controller-'));
    try {
      await expect(startController(dataDir, ['--router-url', 'not a url'], 20_000)).rejects.toThrow(
        /--router-url/,
      );
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 30_000);
});
