import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../core/clock.js';
import { TestDnsServer } from '../../../test/helpers/dns-server.js';
import { TestCa } from '../../../test/helpers/test-certificates.js';
import { FederationRequestError } from './federation-contracts.js';
import { InternetFederationSender, readCaFiles } from './internet-federation.js';

/**
 * The whole Internet path with real pieces: a DNS server on loopback gives the SRV record of
 * `remote.test` (target `srv.test`, an A record to 127.0.0.1), and an HTTPS server with a
 * certificate for `remote.test` from a CA made for the test (trusted as `federation_ca_files`).
 */
let dns: TestDnsServer;
let ca: TestCa;
let server: Server;
const requests: { host?: string; servername?: string; url?: string; body: string }[] = [];

beforeAll(async () => {
  ca = TestCa.create();
  const certificate = ca.issue(['remote.test']);
  server = createServer({ cert: certificate.cert, key: certificate.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      requests.push({
        host: req.headers.host,
        servername: (req.socket as { servername?: string }).servername,
        url: req.url,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"server":{"name":"test"}}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  dns = await TestDnsServer.start({
    '_matrix-fed._tcp.remote.test': { SRV: [{ target: 'srv.test', port }] },
    'srv.test': { A: ['127.0.0.1'] },
  });
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await dns.stop();
  ca.dispose();
});

function sender(extraCaPems: readonly string[]) {
  return new InternetFederationSender({
    clock: systemClock,
    extraCaPems,
    dnsServers: [dns.address],
    // Nothing answers the well-known on this port: discovery goes on with SRV.
    wellKnownPort: 1,
  });
}

describe('InternetFederationSender', () => {
  it('reaches a server by SRV over TLS with its certificate name and Host', async () => {
    const internet = sender(await readCaFiles([ca.certFile]));
    try {
      const answer = await internet.send('remote.test', {
        method: 'PUT',
        path: '/_matrix/federation/v1/send/abc',
        headers: { 'content-type': 'application/json', authorization: 'X-Matrix origin="a"' },
        body: '{"pdus":[]}',
        timeoutMs: 5_000,
        signal: undefined,
        maxBytes: 1024 * 1024,
      });
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.bytes.toString('utf8'))).toEqual({ server: { name: 'test' } });
      expect(requests.at(-1)).toEqual({
        host: 'remote.test',
        servername: 'remote.test',
        url: '/_matrix/federation/v1/send/abc',
        body: '{"pdus":[]}',
      });
    } finally {
      internet.close();
    }
  });

  it('fails as unreachable (status 0) when the certificate is not trusted', async () => {
    const internet = sender([]);
    try {
      const failure = internet.send('remote.test', {
        method: 'GET',
        path: '/_matrix/federation/v1/version',
        headers: {},
        body: undefined,
        timeoutMs: 5_000,
        signal: undefined,
        maxBytes: 1024 * 1024,
      });
      await expect(failure).rejects.toThrow(FederationRequestError);
      await expect(failure).rejects.toMatchObject({ status: 0, destination: 'remote.test' });
    } finally {
      internet.close();
    }
  });
});
