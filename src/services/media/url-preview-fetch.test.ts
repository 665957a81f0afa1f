import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MatrixError } from '../../core/errors.js';
import { IpAddressPolicy } from '../../core/ip-address-policy.js';
import {
  PreviewFetchAborted,
  fetchForPreview,
  parsePreviewUrl,
  type PreviewFetchOptions,
} from './url-preview-fetch.js';

/** The SSRF guard, limits and redirects of preview fetches, against a real local HTTP server. */

let server: Server;
let base = '';
const connections: string[] = [];

function route(req: IncomingMessage, res: ServerResponse): void {
  const path = req.url ?? '/';
  const hop = /^\/hop\/(\d+)$/.exec(path);
  if (hop) {
    const n = Number(hop[1]);
    res.writeHead(302, { Location: n > 0 ? `/hop/${n - 1}` : '/page' }).end();
  } else if (path === '/page') {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end('<title>hi</title>');
  } else if (path === '/to-metadata') {
    res.writeHead(302, { Location: 'http://169.254.169.254/latest/meta-data/' }).end();
  } else if (path === '/big') {
    // No Content-Length: the limit is enforced while reading.
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.write(Buffer.alloc(64 * 1024, 'a'));
    res.end(Buffer.alloc(64 * 1024, 'a'));
  } else if (path === '/slow') {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.write('<title>');
    // Never ends: the deadline must.
  } else if (path === '/zip') {
    res.writeHead(200, { 'Content-Type': 'application/zip' }).end('PK');
  } else {
    res.writeHead(404).end();
  }
}

beforeAll(async () => {
  server = createServer(route);
  server.on('connection', (socket) => connections.push(socket.remoteAddress ?? ''));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function options(overrides: Partial<PreviewFetchOptions> = {}): PreviewFetchOptions {
  return {
    policy: new IpAddressPolicy(['127.0.0.1/32']),
    maxBytes: 100 * 1024,
    signal: AbortSignal.timeout(5_000),
    wantsBody: () => true,
    ...overrides,
  };
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error,
  );
}

function expectMatrixError(error: unknown, status: number, errcode: string): void {
  expect(error).toBeInstanceOf(MatrixError);
  expect((error as MatrixError).status).toBe(status);
  expect((error as MatrixError).errcode).toBe(errcode);
}

describe('fetchForPreview', () => {
  it('fetches an allowed address, with its type and body', async () => {
    const page = await fetchForPreview(new URL(`${base}/page`), options());
    expect(page.mediaType).toBe('text/html');
    expect(page.charset).toBe('utf-8');
    expect(page.body?.toString()).toBe('<title>hi</title>');
  });

  it('follows five redirects, not six', async () => {
    const page = await fetchForPreview(new URL(`${base}/hop/4`), options());
    expect(page.url.pathname).toBe('/page');
    const error = await failure(fetchForPreview(new URL(`${base}/hop/5`), options()));
    expectMatrixError(error, 502, 'M_UNKNOWN');
  });

  it('refuses loopback without the allow list, before connecting', async () => {
    const before = connections.length;
    const refused = options({ policy: new IpAddressPolicy() });
    expectMatrixError(
      await failure(fetchForPreview(new URL(`${base}/page`), refused)),
      403,
      'M_FORBIDDEN',
    );
    const port = (server.address() as AddressInfo).port;
    for (const url of [
      `http://[::1]:${port}/`,
      `http://[::ffff:127.0.0.1]:${port}/`,
      'http://169.254.169.254/',
    ]) {
      expectMatrixError(await failure(fetchForPreview(new URL(url), refused)), 403, 'M_FORBIDDEN');
    }
    expect(connections.length).toBe(before);
  });

  it('checks every resolved name and connects only to the address it checked', async () => {
    const port = (server.address() as AddressInfo).port;
    const resolved: string[][] = [];
    const resolveTo = (addresses: string[]) => async (hostname: string) => {
      resolved.push([hostname, ...addresses]);
      return addresses;
    };
    // Only blocked addresses: refused.
    const blocked = options({ resolve: resolveTo(['127.0.0.2', '10.0.0.1']) });
    const error = await failure(
      fetchForPreview(new URL(`http://preview.test:${port}/page`), blocked),
    );
    expectMatrixError(error, 403, 'M_FORBIDDEN');
    // A blocked address first, then an allowed one: the allowed one is used, the name kept.
    const mixed = options({ resolve: resolveTo(['10.0.0.1', '127.0.0.1']) });
    const page = await fetchForPreview(new URL(`http://preview.test:${port}/page`), mixed);
    expect(page.body?.toString()).toBe('<title>hi</title>');
    expect(resolved.map(([hostname]) => hostname)).toEqual(['preview.test', 'preview.test']);
  });

  it('refuses a redirect to a blocked address', async () => {
    const error = await failure(fetchForPreview(new URL(`${base}/to-metadata`), options()));
    expectMatrixError(error, 403, 'M_FORBIDDEN');
  });

  it('stops reading past the size limit: 502 M_TOO_LARGE', async () => {
    const error = await failure(
      fetchForPreview(new URL(`${base}/big`), options({ maxBytes: 100_000 })),
    );
    expectMatrixError(error, 502, 'M_TOO_LARGE');
  });

  it('gives up at the deadline', async () => {
    const started = Date.now();
    const error = await failure(
      fetchForPreview(new URL(`${base}/slow`), options({ signal: AbortSignal.timeout(300) })),
    );
    expect(error).toBeInstanceOf(PreviewFetchAborted);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('does not read bodies it does not want, and reports failure statuses', async () => {
    const zip = await fetchForPreview(
      new URL(`${base}/zip`),
      options({ wantsBody: (type) => type === 'text/html' }),
    );
    expect(zip.mediaType).toBe('application/zip');
    expect(zip.body).toBeUndefined();
    expectMatrixError(
      await failure(fetchForPreview(new URL(`${base}/missing`), options())),
      502,
      'M_UNKNOWN',
    );
  });
});

describe('parsePreviewUrl', () => {
  it('accepts http and https only', () => {
    expect(parsePreviewUrl('https://example.org/a')?.href).toBe('https://example.org/a');
    for (const text of [
      'ftp://example.org/',
      'file:///etc/passwd',
      'javascript:alert(1)',
      'example.org',
      '',
    ]) {
      expect(parsePreviewUrl(text)).toBeUndefined();
    }
  });
});
