import { once } from 'node:events';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
  type Server as HttpServer,
} from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCa } from '../../../test/helpers/test-certificates.js';
import {
  federationFetch,
  FederationFetchError,
  trustedCertificates,
  type FederationTarget,
} from './federation-fetch.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface Seen {
  host: string | undefined;
  servername: string | false | null | undefined;
  body: string;
}

const seen: Seen[] = [];
let handler: Handler = (_req, res) => res.end('{}');
const record: Handler = (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    seen.push({
      host: req.headers.host,
      servername: (req.socket as Partial<TLSSocket>).servername,
      body: Buffer.concat(chunks).toString('utf8'),
    });
    handler(req, res);
  });
};

let ca: TestCa;
let otherCa: TestCa;
let httpServer: HttpServer;
let httpsServer: HttpsServer;

async function listen(server: HttpServer | HttpsServer): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

let httpPort = 0;
let httpsPort = 0;

beforeAll(async () => {
  ca = TestCa.create();
  otherCa = TestCa.create('Other CA');
  const certificate = ca.issue(['remote.test', '127.0.0.1']);
  httpServer = createHttpServer(record);
  httpsServer = createHttpsServer({ cert: certificate.cert, key: certificate.key }, record);
  httpPort = await listen(httpServer);
  httpsPort = await listen(httpsServer);
});

afterAll(async () => {
  httpServer.closeAllConnections();
  httpsServer.closeAllConnections();
  await Promise.all([
    new Promise((resolve) => httpServer.close(resolve)),
    new Promise((resolve) => httpsServer.close(resolve)),
  ]);
  ca.dispose();
  otherCa.dispose();
});

const httpsTarget = (tlsName: string, hostHeader = 'remote.test'): FederationTarget => ({
  scheme: 'https',
  connectHost: '127.0.0.1',
  port: httpsPort,
  tlsName,
  hostHeader,
});

describe('federationFetch', () => {
  it('sends method, path, headers, body and Host over plain HTTP and parses the JSON answer', async () => {
    handler = (req, res) => {
      res.writeHead(201, { 'content-type': 'application/json', 'x-extra': 'yes' });
      res.end(
        JSON.stringify({ method: req.method, url: req.url, auth: req.headers.authorization }),
      );
    };
    const response = await federationFetch(
      {
        scheme: 'http',
        connectHost: '127.0.0.1',
        port: httpPort,
        tlsName: '127.0.0.1',
        hostHeader: 'remote.test:8448',
      },
      {
        method: 'PUT',
        path: '/_matrix/federation/v1/send/1?x=y',
        headers: { authorization: 'X-Matrix origin="a"', 'content-type': 'application/json' },
        body: '{"pdus":[]}',
      },
    );
    expect(response.status).toBe(201);
    expect(response.headers['x-extra']).toBe('yes');
    expect(response.json).toEqual({
      method: 'PUT',
      url: '/_matrix/federation/v1/send/1?x=y',
      auth: 'X-Matrix origin="a"',
    });
    expect(seen.at(-1)).toMatchObject({ host: 'remote.test:8448', body: '{"pdus":[]}' });
  });

  it('returns error answers too, with json undefined when the body is not JSON', async () => {
    handler = (_req, res) => {
      res.writeHead(502);
      res.end('<html>bad gateway</html>');
    };
    const response = await federationFetch(
      {
        scheme: 'http',
        connectHost: '127.0.0.1',
        port: httpPort,
        tlsName: '127.0.0.1',
        hostHeader: 'x',
      },
      { method: 'GET', path: '/' },
    );
    expect(response.status).toBe(502);
    expect(response.body).toBe('<html>bad gateway</html>');
    expect(response.json).toBeUndefined();
  });

  it('verifies TLS against the extra CA, sending the certificate name as SNI', async () => {
    handler = (_req, res) => res.end('{"ok":true}');
    const response = await federationFetch(httpsTarget('remote.test', 'remote.test'), {
      method: 'GET',
      path: '/_matrix/federation/v1/version',
      ca: trustedCertificates([ca.cert]),
    });
    expect(response.json).toEqual({ ok: true });
    expect(seen.at(-1)).toMatchObject({ host: 'remote.test', servername: 'remote.test' });
  });

  it('accepts a certificate for an IP address, without SNI', async () => {
    handler = (_req, res) => res.end('{"ip":true}');
    const response = await federationFetch(httpsTarget('127.0.0.1', '127.0.0.1:8448'), {
      method: 'GET',
      path: '/',
      ca: trustedCertificates([ca.cert]),
    });
    expect(response.json).toEqual({ ip: true });
    expect(seen.at(-1)?.servername).toBeFalsy();
  });

  it('refuses a certificate from a CA it does not trust', async () => {
    const failure = federationFetch(httpsTarget('remote.test'), { method: 'GET', path: '/' });
    await expect(failure).rejects.toThrow(FederationFetchError);
    await expect(failure).rejects.toMatchObject({ reason: 'unreachable' });
    await expect(
      federationFetch(httpsTarget('remote.test'), {
        method: 'GET',
        path: '/',
        ca: trustedCertificates([otherCa.cert]),
      }),
    ).rejects.toMatchObject({ reason: 'unreachable' });
  });

  it('refuses a certificate that is not for the expected name', async () => {
    await expect(
      federationFetch(httpsTarget('elsewhere.test'), {
        method: 'GET',
        path: '/',
        ca: trustedCertificates([ca.cert]),
      }),
    ).rejects.toThrow(/elsewhere\.test/);
  });

  it('gives up after the timeout', async () => {
    handler = () => undefined; // never answers
    const started = Date.now();
    await expect(
      federationFetch(
        { scheme: 'http', connectHost: '127.0.0.1', port: httpPort, tlsName: 'x', hostHeader: 'x' },
        { method: 'GET', path: '/', timeoutMs: 200 },
      ),
    ).rejects.toMatchObject({ reason: 'timeout' });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('stops when aborted', async () => {
    handler = () => undefined;
    const controller = new AbortController();
    const failure = federationFetch(
      { scheme: 'http', connectHost: '127.0.0.1', port: httpPort, tlsName: 'x', hostHeader: 'x' },
      { method: 'GET', path: '/', signal: controller.signal },
    );
    setTimeout(() => controller.abort(), 50);
    await expect(failure).rejects.toMatchObject({ reason: 'aborted' });
  });

  it('refuses an answer larger than the cap', async () => {
    handler = (_req, res) => res.end('x'.repeat(10_000));
    await expect(
      federationFetch(
        { scheme: 'http', connectHost: '127.0.0.1', port: httpPort, tlsName: 'x', hostHeader: 'x' },
        { method: 'GET', path: '/', maxResponseBytes: 1_000 },
      ),
    ).rejects.toMatchObject({ reason: 'too-large' });
  });

  it('fails cleanly when nothing listens', async () => {
    const closed = createHttpServer();
    const port = await listen(closed);
    await new Promise((resolve) => closed.close(resolve));
    await expect(
      federationFetch(
        { scheme: 'http', connectHost: '127.0.0.1', port, tlsName: 'x', hostHeader: 'x' },
        { method: 'GET', path: '/' },
      ),
    ).rejects.toMatchObject({ reason: 'unreachable' });
  });
});
