import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountServer } from '../helpers/account-server.js';

/**
 * URL previews over HTTP: a real tenant behind the real HTTP app previews pages of a real origin
 * server on 127.0.0.1, which it may reach only when its `url_preview_ip_allowlist` allows it. The
 * og:image is checked where it is stored: downloaded again from the tenant's media.
 */

const PREVIEW = '/_matrix/client/v1/media/preview_url';
const LEGACY_PREVIEW = '/_matrix/media/v3/preview_url';

let origin: Server;
let originUrl = '';
let originPort = 0;
let image: Buffer;
const hits = new Map<string, number>();

function serve(req: IncomingMessage, res: ServerResponse): void {
  const path = req.url ?? '/';
  hits.set(path, (hits.get(path) ?? 0) + 1);
  const html = (body: string): void =>
    void res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(body);
  switch (path) {
    case '/article':
      return html(`<!doctype html><html><head>
        <title>Fallback title</title>
        <meta property="og:title" content="Matrix Blog Post">
        <meta property="og:description" content="This is a really cool blog post">
        <meta property="og:site_name" content="Origin">
        <meta property="og:image" content="/cover.png">
        </head><body>text</body></html>`);
    case '/plain':
      return html('<html><head><title>Only a title</title></head><body></body></html>');
    case '/cover.png':
      return void res.writeHead(200, { 'Content-Type': 'image/png' }).end(image);
    case '/start':
      return void res.writeHead(301, { Location: '/middle' }).end();
    case '/middle':
      return void res.writeHead(302, { Location: `${originUrl}/plain` }).end();
    case '/to-metadata':
      return void res.writeHead(302, { Location: 'http://169.254.169.254/latest/' }).end();
    case '/huge': {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      // 11 MiB in 1 MiB pieces, no Content-Length: stopped while reading at 10 MiB.
      const piece = Buffer.alloc(1024 * 1024, ' ');
      let sent = 0;
      const more = () => {
        while (sent < 11 && !res.destroyed) {
          sent++;
          if (!res.write(piece)) return void res.once('drain', more);
        }
        res.end();
      };
      return more();
    }
    case '/stall':
      // Never answers: the preview's deadline must end it.
      return;
    case '/counted':
      return html(`<title>Visit ${hits.get(path)}</title>`);
    default:
      return void res.writeHead(404).end();
  }
}

let allowing: AccountServer;
let guarded: AccountServer;
let disabled: AccountServer;
let impatient: AccountServer;
let impatientToken = '';
/** `url_preview_timeout_ms` of `impatient` (the default 10 s would make a slow test). */
const SHORT_PREVIEW_TIMEOUT_MS = 500;
let token = '';
let guardedToken = '';

beforeAll(async () => {
  image = await sharp({
    create: { width: 48, height: 32, channels: 3, background: { r: 10, g: 120, b: 200 } },
  })
    .png()
    .toBuffer();
  origin = createServer(serve);
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  originPort = (origin.address() as AddressInfo).port;
  originUrl = `http://127.0.0.1:${originPort}`;
  allowing = await AccountServer.start({
    url_preview_enabled: true,
    url_preview_ip_allowlist: ['127.0.0.1/32'],
  });
  guarded = await AccountServer.start({ url_preview_enabled: true });
  disabled = await AccountServer.start();
  impatient = await AccountServer.start({
    url_preview_enabled: true,
    url_preview_ip_allowlist: ['127.0.0.1/32'],
    url_preview_timeout_ms: SHORT_PREVIEW_TIMEOUT_MS,
  });
  impatientToken = (await impatient.createUser('carol', 'password-carol')).accessToken;
  token = (await allowing.createUser('alice', 'password-alice')).accessToken;
  guardedToken = (await guarded.createUser('bob', 'password-bob')).accessToken;
}, 60_000);

afterAll(async () => {
  await allowing?.stop();
  await guarded?.stop();
  await disabled?.stop();
  await impatient?.stop();
  origin?.closeAllConnections();
  await new Promise((resolve) => origin?.close(resolve));
});

function previewPath(url: string, path = PREVIEW): string {
  return `${path}?url=${encodeURIComponent(url)}`;
}

describe('URL previews with the origin allowed', () => {
  it('previews a page with og tags, storing its image in the tenant media', async () => {
    const reply = await allowing.call('GET', previewPath(`${originUrl}/article`), { token });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      'og:title': 'Matrix Blog Post',
      'og:description': 'This is a really cool blog post',
      'og:site_name': 'Origin',
      'og:image:type': 'image/png',
      'og:image:width': 48,
      'og:image:height': 32,
      'matrix:image:size': image.length,
    });
    const mxc = reply.body['og:image'] as string;
    expect(mxc).toMatch(/^mxc:\/\/alpha\.test\/[A-Za-z0-9_-]+$/);
    const download = await fetch(
      `${allowing.url}/_matrix/client/v1/media/download/${mxc.slice('mxc://'.length)}`,
      { headers: { Authorization: `Bearer ${token}` } },
    );
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer()).equals(image)).toBe(true);
  });

  it('previews a page with only a <title>, on the deprecated path too', async () => {
    const expected = { 'og:title': 'Only a title' };
    const reply = await allowing.call('GET', previewPath(`${originUrl}/plain`), { token });
    expect(reply).toEqual({ status: 200, body: expected });
    const legacy = await allowing.call('GET', previewPath(`${originUrl}/plain`, LEGACY_PREVIEW), {
      token,
    });
    expect(legacy).toEqual({ status: 200, body: expected });
  });

  it('previews an image URL as the stored image', async () => {
    const reply = await allowing.call('GET', previewPath(`${originUrl}/cover.png`), { token });
    expect(reply.status).toBe(200);
    expect(reply.body['og:image']).toMatch(/^mxc:\/\/alpha\.test\//);
    expect(reply.body['matrix:image:size']).toBe(image.length);
  });

  it('follows a redirect chain', async () => {
    const reply = await allowing.call('GET', previewPath(`${originUrl}/start`), { token });
    expect(reply).toEqual({ status: 200, body: { 'og:title': 'Only a title' } });
  });

  it('caches previews: the origin is asked once', async () => {
    const first = await allowing.call('GET', previewPath(`${originUrl}/counted`), { token });
    const second = await allowing.call('GET', previewPath(`${originUrl}/counted`), { token });
    expect(first.body).toEqual({ 'og:title': 'Visit 1' });
    expect(second.body).toEqual({ 'og:title': 'Visit 1' });
    expect(hits.get('/counted')).toBe(1);
  });

  it('refuses a page over 10 MiB with 502 M_TOO_LARGE', async () => {
    const reply = await allowing.call('GET', previewPath(`${originUrl}/huge`), { token });
    expect(reply.status).toBe(502);
    expect(reply.body.errcode).toBe('M_TOO_LARGE');
  });

  it('answers 504 M_UNKNOWN when the page does not answer within the time limit', async () => {
    const started = Date.now();
    const reply = await impatient.call('GET', previewPath(`${originUrl}/stall`), {
      token: impatientToken,
    });
    const took = Date.now() - started;
    expect(reply.status).toBe(504);
    expect(reply.body).toEqual({ errcode: 'M_UNKNOWN', error: 'Timed out fetching the URL' });
    expect(hits.get('/stall')).toBe(1);
    expect(took).toBeGreaterThanOrEqual(SHORT_PREVIEW_TIMEOUT_MS - 50);
    expect(took).toBeLessThan(5_000);
    // A timeout is not cached: the next request asks the page again.
    await impatient.call('GET', previewPath(`${originUrl}/stall`), { token: impatientToken });
    expect(hits.get('/stall')).toBe(2);
  });

  it('refuses a redirect to a blocked address', async () => {
    const reply = await allowing.call('GET', previewPath(`${originUrl}/to-metadata`), { token });
    expect(reply.status).toBe(403);
    expect(reply.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'IP address blocked' });
  });

  it('checks its parameters and the caller', async () => {
    const missing = await allowing.call('GET', PREVIEW, { token });
    expect(missing.status).toBe(400);
    expect(missing.body.errcode).toBe('M_MISSING_PARAM');
    for (const url of ['ftp://127.0.0.1/', 'file:///etc/passwd', 'not a url']) {
      const reply = await allowing.call('GET', previewPath(url), { token });
      expect(reply.status).toBe(400);
      expect(reply.body.errcode).toBe('M_INVALID_PARAM');
    }
    const badTs = await allowing.call('GET', `${previewPath(`${originUrl}/plain`)}&ts=soon`, {
      token,
    });
    expect(badTs.status).toBe(400);
    expect(badTs.body.errcode).toBe('M_INVALID_PARAM');
    const withTs = await allowing.call(
      'GET',
      `${previewPath(`${originUrl}/plain`)}&ts=1510610716656`,
      {
        token,
      },
    );
    expect(withTs.status).toBe(200);
    const anonymous = await allowing.call('GET', previewPath(`${originUrl}/plain`));
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.errcode).toBe('M_MISSING_TOKEN');
  });
});

describe('URL previews without an allow list (SSRF guard)', () => {
  it.each([
    ['loopback', () => `${originUrl}/plain`],
    ['a name resolving to loopback', () => `http://localhost:${originPort}/plain`],
    ['IPv6 loopback', () => `http://[::1]:${originPort}/plain`],
    ['IPv4-mapped loopback', () => `http://[::ffff:127.0.0.1]:${originPort}/plain`],
    ['the cloud metadata address', () => 'http://169.254.169.254/latest/meta-data/'],
    ['a private address', () => 'http://10.0.0.1/'],
  ])('refuses %s with 403 M_FORBIDDEN, without connecting', async (_name, url) => {
    const before = hits.get('/plain') ?? 0;
    const started = Date.now();
    const reply = await guarded.call('GET', previewPath(url()), { token: guardedToken });
    expect(reply.status).toBe(403);
    expect(reply.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'IP address blocked' });
    expect(hits.get('/plain') ?? 0).toBe(before);
    // A connection attempt to 169.254.169.254 or 10.0.0.1 would hang here, not answer at once.
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe('URL previews disabled (the default)', () => {
  it('answers 404 M_UNRECOGNIZED, and 401 without a token', async () => {
    const user = await disabled.createUser('carol', 'password-carol');
    const reply = await disabled.call('GET', previewPath(`${originUrl}/plain`), {
      token: user.accessToken,
    });
    expect(reply).toEqual({
      status: 404,
      body: { errcode: 'M_UNRECOGNIZED', error: 'URL previews are disabled on this server' },
    });
    const anonymous = await disabled.call('GET', previewPath(`${originUrl}/plain`));
    expect(anonymous.status).toBe(401);
  });
});
