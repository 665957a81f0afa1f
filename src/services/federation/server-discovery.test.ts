import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TestDnsServer } from '../../../test/helpers/dns-server.js';
import { ManualClock } from '../../../test/helpers/manual-clock.js';
import { TestCa } from '../../../test/helpers/test-certificates.js';
import { IpAddressPolicy } from '../../core/ip-address-policy.js';
import { trustedCertificates } from './federation-fetch.js';
import {
  cacheLifetimeMs,
  chooseSrvRecord,
  RESOLUTION_CACHE_MS,
  ServerDiscovery,
  ServerDiscoveryError,
  WELL_KNOWN_DEFAULT_CACHE_MS,
  WELL_KNOWN_MAX_CACHE_MS,
  WELL_KNOWN_MIN_CACHE_MS,
} from './server-discovery.js';

/**
 * A real DNS server on loopback answers the names `*.test`, and a real HTTPS server (its
 * certificate from a CA made for the test) serves their well-known documents, by Host.
 */

type WellKnown = (req: IncomingMessage, res: ServerResponse) => void;
const wellKnowns = new Map<string, WellKnown>();
const wellKnownHits: string[] = [];

let dns: TestDnsServer;
let ca: TestCa;
let https: Server;
let httpsPort = 0;
let clock: ManualClock;

const WELL_KNOWN_HOSTS = [
  'wk.test',
  'nowk.test',
  'redirect.test',
  'loop.test',
  'big.test',
  'bad.test',
  'cached.test',
  'ipdeleg.test',
];

beforeAll(async () => {
  ca = TestCa.create();
  const certificate = ca.issue(WELL_KNOWN_HOSTS);
  https = createServer({ cert: certificate.cert, key: certificate.key }, (req, res) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    wellKnownHits.push(`${host}${req.url}`);
    const serve = wellKnowns.get(`${host}${req.url}`);
    if (serve) serve(req, res);
    else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"errcode":"M_NOT_FOUND"}');
    }
  });
  https.listen(0, '127.0.0.1');
  await once(https, 'listening');
  const address = https.address();
  httpsPort = typeof address === 'object' && address ? address.port : 0;
  dns = await TestDnsServer.start();
});

afterAll(async () => {
  https.closeAllConnections();
  await new Promise((resolve) => https.close(resolve));
  await dns.stop();
  ca.dispose();
});

beforeEach(() => {
  clock = new ManualClock(1_700_000_000_000);
  wellKnowns.clear();
  wellKnownHits.length = 0;
  dns.questions.length = 0;
  dns.records.clear();
  for (const host of WELL_KNOWN_HOSTS) dns.set(host, { A: ['127.0.0.1'] });
});

function discovery(
  options: {
    trustCa?: boolean;
    plainHttp?: Record<string, string>;
    addressPolicy?: IpAddressPolicy;
  } = {},
) {
  return new ServerDiscovery({
    clock,
    dnsServers: [dns.address],
    ca: options.trustCa === false ? undefined : trustedCertificates([ca.cert]),
    wellKnownPort: httpsPort,
    plainHttp: options.plainHttp,
    addressPolicy: options.addressPolicy,
  });
}

function serveJson(path: string, body: unknown, headers: Record<string, string> = {}) {
  wellKnowns.set(path, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  });
}

const where = (server: Awaited<ReturnType<ServerDiscovery['resolveDestination']>>) => ({
  connect: `${server.connectHost}:${server.port}`,
  tls: server.tlsName,
  host: server.hostHeader,
});

describe('ServerDiscovery: names that say where', () => {
  it('step 1: an IP literal is used with its port or 8448, Host the server name, certificate the address', async () => {
    const d = discovery();
    expect(where(await d.resolveDestination('127.0.0.1'))).toEqual({
      connect: '127.0.0.1:8448',
      tls: '127.0.0.1',
      host: '127.0.0.1',
    });
    expect(where(await d.resolveDestination('[::1]:8449'))).toEqual({
      connect: '::1:8449',
      tls: '::1',
      host: '[::1]:8449',
    });
    expect((await d.resolveDestination('[::1]:8449')).baseUrl).toBe('https://[::1]:8449');
    expect(dns.questions).toEqual([]);
    expect(wellKnownHits).toEqual([]);
  });

  it('step 2: a host name with a port is used as it is, without well-known or SRV', async () => {
    const server = await discovery().resolveDestination('wk.test:1234');
    expect(where(server)).toEqual({
      connect: 'wk.test:1234',
      tls: 'wk.test',
      host: 'wk.test:1234',
    });
    expect(wellKnownHits).toEqual([]);
    expect(dns.questions).toEqual([]);
  });

  it('federation_plain_http short-circuits discovery', async () => {
    const server = await discovery({
      plainHttp: { 'wk.test': '127.0.0.1:9000' },
    }).resolveDestination('wk.test');
    expect(server).toMatchObject({
      scheme: 'http',
      connectHost: '127.0.0.1',
      port: 9000,
      hostHeader: 'wk.test',
      baseUrl: 'http://127.0.0.1:9000',
    });
    expect(wellKnownHits).toEqual([]);
  });

  it('refuses a name that is not a server name', async () => {
    await expect(discovery().resolveDestination('not a name')).rejects.toThrow(
      ServerDiscoveryError,
    );
  });
});

describe('ServerDiscovery: well-known delegation (step 3)', () => {
  it('3.1: delegation to an IP literal uses it, Host the address', async () => {
    serveJson('ipdeleg.test/.well-known/matrix/server', { 'm.server': '127.0.0.2:9999' });
    expect(where(await discovery().resolveDestination('ipdeleg.test'))).toEqual({
      connect: '127.0.0.2:9999',
      tls: '127.0.0.2',
      host: '127.0.0.2:9999',
    });
  });

  it('3.2: delegation with a port: that host and port, Host and certificate of the delegated name', async () => {
    serveJson('wk.test/.well-known/matrix/server', { 'm.server': 'delegated.test:1234' });
    expect(where(await discovery().resolveDestination('wk.test'))).toEqual({
      connect: 'delegated.test:1234',
      tls: 'delegated.test',
      host: 'delegated.test:1234',
    });
    expect(dns.questions.some((q) => q.startsWith('SRV'))).toBe(false);
  });

  it('3.3: delegation without a port: SRV _matrix-fed._tcp of the delegated name', async () => {
    serveJson('wk.test/.well-known/matrix/server', { 'm.server': 'delegated.test' });
    dns.set('_matrix-fed._tcp.delegated.test', { SRV: [{ target: 'target.test', port: 4321 }] });
    dns.set('_matrix._tcp.delegated.test', { SRV: [{ target: 'old.test', port: 1 }] });
    expect(where(await discovery().resolveDestination('wk.test'))).toEqual({
      connect: 'target.test:4321',
      tls: 'delegated.test',
      host: 'delegated.test',
    });
  });

  it('3.4: then the deprecated SRV _matrix._tcp of the delegated name', async () => {
    serveJson('wk.test/.well-known/matrix/server', { 'm.server': 'delegated.test' });
    dns.set('_matrix._tcp.delegated.test', { SRV: [{ target: 'old.test', port: 5555 }] });
    expect(where(await discovery().resolveDestination('wk.test'))).toEqual({
      connect: 'old.test:5555',
      tls: 'delegated.test',
      host: 'delegated.test',
    });
    expect(dns.questions).toContain('SRV _matrix-fed._tcp.delegated.test');
  });

  it('3.5: no SRV: the delegated name on 8448', async () => {
    serveJson('wk.test/.well-known/matrix/server', { 'm.server': 'delegated.test' });
    expect(where(await discovery().resolveDestination('wk.test'))).toEqual({
      connect: 'delegated.test:8448',
      tls: 'delegated.test',
      host: 'delegated.test',
    });
  });

  it('follows redirects to the document', async () => {
    wellKnowns.set('redirect.test/.well-known/matrix/server', (_req, res) => {
      res.writeHead(302, { location: '/elsewhere' });
      res.end();
    });
    serveJson('redirect.test/elsewhere', { 'm.server': 'moved.test:443' });
    expect(where(await discovery().resolveDestination('redirect.test'))).toMatchObject({
      connect: 'moved.test:443',
      host: 'moved.test:443',
    });
    expect(wellKnownHits).toEqual([
      'redirect.test/.well-known/matrix/server',
      'redirect.test/elsewhere',
    ]);
  });

  it('stops at a redirect loop and goes on without delegation', async () => {
    wellKnowns.set('loop.test/.well-known/matrix/server', (_req, res) => {
      res.writeHead(301, { location: '/again' });
      res.end();
    });
    wellKnowns.set('loop.test/again', (_req, res) => {
      res.writeHead(301, { location: '/.well-known/matrix/server' });
      res.end();
    });
    expect(where(await discovery().resolveDestination('loop.test'))).toEqual({
      connect: 'loop.test:8448',
      tls: 'loop.test',
      host: 'loop.test',
    });
    expect(wellKnownHits).toHaveLength(2);
  });

  it('ignores invalid documents: bad JSON, no m.server, invalid m.server, too large', async () => {
    serveJson('bad.test/.well-known/matrix/server', '{not json');
    serveJson('wk.test/.well-known/matrix/server', { 'm.other': 'x' });
    serveJson('cached.test/.well-known/matrix/server', { 'm.server': 'bad name!' });
    serveJson('big.test/.well-known/matrix/server', {
      'm.server': 'delegated.test:1',
      padding: 'x'.repeat(60 * 1024),
    });
    const d = discovery();
    for (const name of ['bad.test', 'wk.test', 'cached.test', 'big.test']) {
      expect((await d.resolveDestination(name)).connectHost).toBe(name);
    }
  });

  it('a well-known document with an untrusted certificate delegates nothing', async () => {
    serveJson('wk.test/.well-known/matrix/server', { 'm.server': 'delegated.test:1234' });
    const server = await discovery({ trustCa: false }).resolveDestination('wk.test');
    expect(where(server)).toEqual({ connect: 'wk.test:8448', tls: 'wk.test', host: 'wk.test' });
  });
});

describe('ServerDiscovery: without delegation (steps 4 to 6)', () => {
  it('4: SRV _matrix-fed._tcp of the server name; certificate and Host stay the server name', async () => {
    dns.set('_matrix-fed._tcp.nowk.test', { SRV: [{ target: 'fed.test', port: 7777 }] });
    expect(where(await discovery().resolveDestination('nowk.test'))).toEqual({
      connect: 'fed.test:7777',
      tls: 'nowk.test',
      host: 'nowk.test',
    });
    expect(wellKnownHits).toEqual(['nowk.test/.well-known/matrix/server']);
  });

  it('5: then the deprecated _matrix._tcp', async () => {
    dns.set('_matrix._tcp.nowk.test', { SRV: [{ target: 'legacy.test', port: 6666 }] });
    expect(where(await discovery().resolveDestination('nowk.test'))).toEqual({
      connect: 'legacy.test:6666',
      tls: 'nowk.test',
      host: 'nowk.test',
    });
    expect(dns.questions).toEqual(
      expect.arrayContaining(['SRV _matrix-fed._tcp.nowk.test', 'SRV _matrix._tcp.nowk.test']),
    );
  });

  it('6: else the server name on 8448', async () => {
    expect(where(await discovery().resolveDestination('nowk.test'))).toEqual({
      connect: 'nowk.test:8448',
      tls: 'nowk.test',
      host: 'nowk.test',
    });
  });

  it('a server whose well-known cannot be reached (no address) goes on with SRV', async () => {
    dns.set('_matrix-fed._tcp.gone.test', { SRV: [{ target: 'fed.test', port: 7777 }] });
    expect((await discovery().resolveDestination('gone.test')).connectHost).toBe('fed.test');
    expect(dns.questions).toEqual(expect.arrayContaining(['A gone.test', 'AAAA gone.test']));
  });

  it('an SRV record "." means there is no federation service', async () => {
    dns.set('_matrix-fed._tcp.nowk.test', { SRV: [{ target: '.', port: 0 }] });
    await expect(discovery().resolveDestination('nowk.test')).rejects.toThrow(ServerDiscoveryError);
  });
});

describe('ServerDiscovery: caching', () => {
  it('keeps a document for 24 h by default, and re-resolves SRV after the resolution cache', async () => {
    serveJson('cached.test/.well-known/matrix/server', { 'm.server': 'delegated.test' });
    const d = discovery();
    await d.resolveDestination('cached.test');
    await d.resolveDestination('cached.test');
    expect(wellKnownHits).toHaveLength(1);
    clock.advance(RESOLUTION_CACHE_MS + 1);
    dns.set('_matrix-fed._tcp.delegated.test', { SRV: [{ target: 'new.test', port: 1 }] });
    expect((await d.resolveDestination('cached.test')).connectHost).toBe('new.test');
    expect(wellKnownHits).toHaveLength(1);
    clock.advance(WELL_KNOWN_DEFAULT_CACHE_MS);
    await d.resolveDestination('cached.test');
    expect(wellKnownHits).toHaveLength(2);
  });

  it('honours Cache-Control max-age', async () => {
    serveJson(
      'cached.test/.well-known/matrix/server',
      { 'm.server': 'delegated.test:1' },
      {
        'cache-control': 'public, max-age=3600',
      },
    );
    const d = discovery();
    await d.resolveDestination('cached.test');
    clock.advance(59 * 60_000);
    await d.resolveDestination('cached.test');
    expect(wellKnownHits).toHaveLength(1);
    clock.advance(2 * 60_000);
    await d.resolveDestination('cached.test');
    expect(wellKnownHits).toHaveLength(2);
  });

  it('remembers an answer that delegates nothing for an hour', async () => {
    const d = discovery();
    await d.resolveDestination('nowk.test');
    clock.advance(RESOLUTION_CACHE_MS + 1);
    await d.resolveDestination('nowk.test');
    expect(wellKnownHits).toHaveLength(1);
    clock.advance(60 * 60_000);
    await d.resolveDestination('nowk.test');
    expect(wellKnownHits).toHaveLength(2);
  });

  it('backs off from an unreachable server: 2 minutes, then doubling', async () => {
    const d = discovery();
    const fetches = () => dns.questions.filter((q) => q === 'A gone.test').length;
    await d.resolveDestination('gone.test');
    expect(fetches()).toBe(1);
    // The resolution cache is longer than the first back-off: ask past both.
    clock.advance(RESOLUTION_CACHE_MS + 1);
    await d.resolveDestination('gone.test');
    expect(fetches()).toBe(2); // second failure: 4 minutes
    clock.advance(RESOLUTION_CACHE_MS + 1);
    await d.resolveDestination('gone.test');
    expect(fetches()).toBe(3); // third: 8 minutes
    clock.advance(RESOLUTION_CACHE_MS + 1);
    await d.resolveDestination('gone.test');
    expect(fetches()).toBe(4); // fourth: 16 minutes
    clock.advance(RESOLUTION_CACHE_MS + 1);
    await d.resolveDestination('gone.test');
    expect(fetches()).toBe(4); // still within 16 minutes
  });

  it('each discovery has its own caches', async () => {
    serveJson('cached.test/.well-known/matrix/server', { 'm.server': 'delegated.test:1' });
    await discovery().resolveDestination('cached.test');
    await discovery().resolveDestination('cached.test');
    expect(wellKnownHits).toHaveLength(2);
  });
});

describe('cacheLifetimeMs', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  it('reads max-age, clamped to [5 min, 48 h]', () => {
    expect(cacheLifetimeMs({ 'cache-control': 'max-age=7200' }, now)).toBe(7_200_000);
    expect(cacheLifetimeMs({ 'cache-control': 'max-age=10' }, now)).toBe(WELL_KNOWN_MIN_CACHE_MS);
    expect(cacheLifetimeMs({ 'cache-control': 'max-age=9999999' }, now)).toBe(
      WELL_KNOWN_MAX_CACHE_MS,
    );
    expect(cacheLifetimeMs({ 'cache-control': 'no-store' }, now)).toBe(WELL_KNOWN_MIN_CACHE_MS);
  });
  it('reads Expires relative to Date', () => {
    expect(
      cacheLifetimeMs(
        { expires: 'Wed, 01 Jan 2020 03:00:00 GMT', date: 'Wed, 01 Jan 2020 00:00:00 GMT' },
        now,
      ),
    ).toBe(3 * 3_600_000);
    expect(cacheLifetimeMs({ expires: '0' }, now)).toBe(WELL_KNOWN_MIN_CACHE_MS);
  });
  it('defaults to 24 h', () => {
    expect(cacheLifetimeMs({}, now)).toBe(WELL_KNOWN_DEFAULT_CACHE_MS);
  });
});

describe('chooseSrvRecord', () => {
  const records = [
    { name: 'b.test', port: 2, priority: 20, weight: 0 },
    { name: 'a1.test', port: 1, priority: 10, weight: 1 },
    { name: 'a2.test', port: 1, priority: 10, weight: 3 },
  ];
  it('takes the lowest priority, by weight', () => {
    expect(chooseSrvRecord(records, () => 0)?.name).toBe('a1.test');
    expect(chooseSrvRecord(records, () => 0.5)?.name).toBe('a2.test');
  });
  it('gives nothing for "."', () => {
    expect(chooseSrvRecord([{ name: '.', port: 0, priority: 0, weight: 0 }])).toBeUndefined();
  });
});

describe('ServerDiscovery.lookup', () => {
  it('turns names into addresses through its own DNS servers', async () => {
    dns.set('dual.test', { A: ['127.0.0.1'], AAAA: ['::1'] });
    const d = discovery();
    const all = await new Promise((resolve, reject) =>
      d.lookup('dual.test', { all: true }, (error, addresses) =>
        error ? reject(error) : resolve(addresses),
      ),
    );
    expect(all).toEqual([
      { address: '::1', family: 6 },
      { address: '127.0.0.1', family: 4 },
    ]);
    await expect(
      new Promise((resolve, reject) =>
        d.lookup('missing.test', {}, (error, address) =>
          error ? reject(error) : resolve(address),
        ),
      ),
    ).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });
});

describe('ServerDiscovery: SSRF guard (addressPolicy)', () => {
  it('hands out only accepted addresses; none left: EADDRREFUSED', async () => {
    dns.set('dual.test', { A: ['127.0.0.1', '93.184.216.34'], AAAA: ['::1'] });
    const d = discovery({ addressPolicy: new IpAddressPolicy() });
    const lookupAll = (name: string) =>
      new Promise((resolve, reject) =>
        d.lookup(name, { all: true }, (error, addresses) =>
          error ? reject(error) : resolve(addresses),
        ),
      );
    expect(await lookupAll('dual.test')).toEqual([{ address: '93.184.216.34', family: 4 }]);
    await expect(lookupAll('wk.test')).rejects.toMatchObject({
      code: 'EADDRREFUSED',
      message: expect.stringContaining('federation_ip_allowlist') as unknown,
    });
    const allowing = discovery({ addressPolicy: new IpAddressPolicy(['127.0.0.1/32']) });
    const allowed = await new Promise((resolve, reject) =>
      allowing.lookup('wk.test', { all: true }, (error, addresses) =>
        error ? reject(error) : resolve(addresses),
      ),
    );
    expect(allowed).toEqual([{ address: '127.0.0.1', family: 4 }]);
  });

  it('does not fetch a well-known document from a refused address', async () => {
    serveJson('wk.test/.well-known/matrix/server', { 'm.server': 'delegated.test:1234' });
    const server = await discovery({ addressPolicy: new IpAddressPolicy() }).resolveDestination(
      'wk.test',
    );
    expect(where(server)).toEqual({ connect: 'wk.test:8448', tls: 'wk.test', host: 'wk.test' });
    expect(wellKnownHits).toEqual([]);
  });

  it('refusedLiteral: an IP-address target is refused unless allowed; host names are left to lookup', () => {
    const strict = discovery({ addressPolicy: new IpAddressPolicy() });
    const target = { scheme: 'https' as const, port: 8448, tlsName: 'x', hostHeader: 'x' };
    expect(strict.refusedLiteral({ ...target, connectHost: '169.254.169.254' })).toMatch(
      /refused to connect to 169\.254\.169\.254/,
    );
    expect(strict.refusedLiteral({ ...target, connectHost: 'fe80::1' })).toBeDefined();
    expect(strict.refusedLiteral({ ...target, connectHost: '93.184.216.34' })).toBeUndefined();
    expect(strict.refusedLiteral({ ...target, connectHost: 'wk.test' })).toBeUndefined();
    const allowing = discovery({ addressPolicy: new IpAddressPolicy(['169.254.0.0/16']) });
    expect(allowing.refusedLiteral({ ...target, connectHost: '169.254.169.254' })).toBeUndefined();
    expect(discovery().refusedLiteral({ ...target, connectHost: '127.0.0.1' })).toBeUndefined();
  });
});
