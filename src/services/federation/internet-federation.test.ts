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
/** TCP connections the server accepted (a refused destination must open none). */
let connections = 0;
let port = 0;

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
  server.on('connection', () => {
    connections += 1;
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  port = typeof address === 'object' && address ? address.port : 0;
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

/** The test server is on 127.0.0.1: reachable only when `federation_ip_allowlist` allows it. */
function sender(extraCaPems: readonly string[], ipAllowlist: readonly string[] = ['127.0.0.1/32']) {
  return new InternetFederationSender({
    clock: systemClock,
    extraCaPems,
    dnsServers: [dns.address],
    // Nothing answers the well-known on this port: discovery goes on with SRV.
    wellKnownPort: 1,
    ipAllowlist,
  });
}

const versionRequest = {
  method: 'GET',
  path: '/_matrix/federation/v1/version',
  headers: {},
  body: undefined,
  timeoutMs: 5_000,
  signal: undefined,
  maxBytes: 1024 * 1024,
};

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
      const failure = internet.send('remote.test', versionRequest);
      await expect(failure).rejects.toThrow(FederationRequestError);
      await expect(failure).rejects.toMatchObject({ status: 0, destination: 'remote.test' });
    } finally {
      internet.close();
    }
  });

  describe('SSRF guard (federation_ip_allowlist)', () => {
    it('refuses a destination whose discovery resolves to 127.0.0.1, without connecting', async () => {
      const internet = sender(await readCaFiles([ca.certFile]), []);
      const before = { connections, requests: requests.length };
      try {
        const failure = internet.send('remote.test', versionRequest);
        await expect(failure).rejects.toThrow(FederationRequestError);
        await expect(failure).rejects.toMatchObject({
          status: 0,
          destination: 'remote.test',
          message: expect.stringMatching(
            /refused to connect to srv\.test \(127\.0\.0\.1\).*federation_ip_allowlist/,
          ) as unknown,
        });
        expect({ connections, requests: requests.length }).toEqual(before);
      } finally {
        internet.close();
      }
    });

    it('refuses an IP-literal destination in a refused range, without connecting', async () => {
      const internet = sender(await readCaFiles([ca.certFile]), []);
      const before = connections;
      try {
        const failure = internet.send(`127.0.0.1:${port}`, versionRequest);
        await expect(failure).rejects.toMatchObject({
          status: 0,
          message: expect.stringContaining('refused to connect to 127.0.0.1') as unknown,
        });
        expect(connections).toBe(before);
      } finally {
        internet.close();
      }
    });

    it("connects when federation_ip_allowlist names the address ['127.0.0.1/32']", async () => {
      const internet = sender(await readCaFiles([ca.certFile]), ['127.0.0.1/32']);
      const before = connections;
      try {
        const answer = await internet.send('remote.test', versionRequest);
        expect(answer.status).toBe(200);
        expect(connections).toBe(before + 1);
        expect(requests.at(-1)).toMatchObject({ host: 'remote.test', url: versionRequest.path });
      } finally {
        internet.close();
      }
    });

    it('an allow list naming other addresses does not open loopback', async () => {
      const internet = sender(await readCaFiles([ca.certFile]), ['10.0.0.0/8', '::1']);
      try {
        await expect(internet.send('remote.test', versionRequest)).rejects.toMatchObject({
          status: 0,
        });
      } finally {
        internet.close();
      }
    });
  });
});
