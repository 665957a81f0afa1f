import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineEndpoint, respond } from '../../src/api/endpoint.js';
import { LocalTenantStore } from '../../src/controller/local-tenant-store.js';
import { forbidden } from '../../src/core/errors.js';
import { startHomeserver, type Homeserver } from '../../src/homeserver/homeserver.js';
import { createHttpApp, type HttpApp } from '../../src/http/http-app.js';

// Endpoints that exist only in this test, to drive every input and error path of the HTTP layer
// against a real homeserver (SQLite) behind a real listening socket.
const echo = defineEndpoint({
  method: 'POST',
  paths: ['/_test/echo/:word'],
  auth: 'none',
  params: z.object({ word: z.string().max(300) }),
  body: z.object({ name: z.string(), count: z.number().int().optional() }),
  handler: async (ctx, req) => ({
    server_name: ctx.serverName,
    word: req.params.word,
    ...req.body,
  }),
});
const listing = defineEndpoint({
  method: 'GET',
  paths: ['/_test/list'],
  auth: 'none',
  query: z.object({ limit: z.coerce.number().int().positive().optional() }),
  handler: async (_ctx, req) =>
    respond(201, { limit: req.query.limit ?? null }, { 'X-Test': 'yes' }),
});
const failing = defineEndpoint({
  method: 'GET',
  paths: ['/_test/crash'],
  auth: 'none',
  handler: async () => {
    throw new Error('database password is hunter2');
  },
});
const refusing = defineEndpoint({
  method: 'GET',
  paths: ['/_test/forbidden'],
  auth: 'none',
  handler: async () => {
    throw forbidden('You may not');
  },
});

const MAX_BODY = 4096;

/** Sends a raw HTTP request (fetch would add or refuse some of the headers tested here). */
function send(
  url: string,
  options: {
    method: string;
    path: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    chunked?: boolean;
  },
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { hostname, port, method: options.method, path: options.path, headers: options.headers },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    if (options.body !== undefined) {
      if (options.chunked) {
        const bytes = Buffer.from(options.body);
        for (let i = 0; i < bytes.length; i += 1000) req.write(bytes.subarray(i, i + 1000));
      } else {
        req.write(options.body);
      }
    }
    req.end();
  });
}

describe('HTTP conventions', () => {
  let dataDir: string;
  let homeserver: Homeserver;
  let app: HttpApp;
  let url: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'marina-http-'));
    const store = new LocalTenantStore(dataDir);
    const logger = pino({ level: 'silent' });
    homeserver = await startHomeserver(await store.create('alpha.test'), {
      logger,
      defaultPublicBaseUrl: 'http://alpha.test',
    });
    app = createHttpApp({
      logger,
      endpoints: [echo, listing, failing, refusing],
      maxBodyBytes: MAX_BODY,
      resolveTenant: async () => homeserver.context,
    });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  });

  afterAll(async () => {
    await app?.close();
    await homeserver?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const post = (
    body: string | Buffer,
    headers: Record<string, string> = { 'Content-Type': 'application/json' },
  ) => send(url, { method: 'POST', path: '/_test/echo/hello', headers, body });

  it('passes a valid JSON body, whatever its content type', async () => {
    const json = await post('{"name":"x","count":2}');
    expect(json.status).toBe(200);
    expect(JSON.parse(json.body)).toEqual({
      server_name: 'alpha.test',
      word: 'hello',
      name: 'x',
      count: 2,
    });
    const untyped = await post('{"name":"y"}', {});
    expect(JSON.parse(untyped.body)).toMatchObject({ name: 'y' });
    const textPlain = await post('{"name":"z"}', { 'Content-Type': 'text/plain' });
    expect(JSON.parse(textPlain.body)).toMatchObject({ name: 'z' });
  });

  it.each([
    ['not JSON', '{"name": ', 400, 'M_NOT_JSON'],
    ['binary garbage', Buffer.from([0xff, 0xfe, 0x00, 0x01]), 400, 'M_NOT_JSON'],
    ['a JSON array', '["name"]', 400, 'M_BAD_JSON'],
    ['a JSON string', '"name"', 400, 'M_BAD_JSON'],
    ['a missing field', '{"count": 1}', 400, 'M_MISSING_PARAM'],
    ['an empty body (treated as {})', '', 400, 'M_MISSING_PARAM'],
    ['a field of the wrong type', '{"name": 5}', 400, 'M_BAD_JSON'],
    ['a float where an integer belongs', '{"name": "x", "count": 1.5}', 400, 'M_BAD_JSON'],
    [
      'deeply nested JSON',
      `{"name":"x","deep":${'['.repeat(1500)}${']'.repeat(1500)}}`,
      200,
      undefined,
    ],
  ] as const)('answers %s with %s %s', async (_label, body, status, errcode) => {
    const response = await post(body);
    expect(response.status).toBe(status);
    const parsed = JSON.parse(response.body) as { errcode?: string; error?: string };
    expect(parsed.errcode).toBe(errcode);
    if (errcode) expect(typeof parsed.error).toBe('string');
  });

  it('answers a body over the limit with 413 M_TOO_LARGE, with or without Content-Length', async () => {
    const big = JSON.stringify({ name: 'x'.repeat(MAX_BODY) });
    const withLength = await post(big);
    expect(withLength.status).toBe(413);
    expect(JSON.parse(withLength.body)).toMatchObject({ errcode: 'M_TOO_LARGE' });
    const chunked = await send(url, {
      method: 'POST',
      path: '/_test/echo/hello',
      headers: { 'Transfer-Encoding': 'chunked' },
      body: big,
      chunked: true,
    });
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body)).toMatchObject({ errcode: 'M_TOO_LARGE' });
  });

  it('validates query and path parameters as M_INVALID_PARAM', async () => {
    const bad = await send(url, { method: 'GET', path: '/_test/list?limit=many' });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toMatchObject({ errcode: 'M_INVALID_PARAM' });
    const tooLong = await send(url, {
      method: 'POST',
      path: `/_test/echo/${'w'.repeat(400)}`,
      body: '{"name":"x"}',
    });
    expect(tooLong.status).toBe(400);
    expect(JSON.parse(tooLong.body)).toMatchObject({ errcode: 'M_INVALID_PARAM' });
  });

  it('lets a handler choose status and headers', async () => {
    const response = await send(url, { method: 'GET', path: '/_test/list?limit=3' });
    expect(response.status).toBe(201);
    expect(response.headers['x-test']).toBe('yes');
    expect(JSON.parse(response.body)).toEqual({ limit: 3 });
  });

  it('turns a MatrixError into its status and a crash into a 500 that hides details', async () => {
    const refused = await send(url, { method: 'GET', path: '/_test/forbidden' });
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toEqual({ errcode: 'M_FORBIDDEN', error: 'You may not' });
    const crashed = await send(url, { method: 'GET', path: '/_test/crash' });
    expect(crashed.status).toBe(500);
    expect(JSON.parse(crashed.body)).toEqual({
      errcode: 'M_UNKNOWN',
      error: 'Internal server error',
    });
    expect(crashed.body).not.toContain('hunter2');
  });

  it('answers 404 and 405 M_UNRECOGNIZED, with CORS headers', async () => {
    const unknown = await send(url, { method: 'GET', path: '/_matrix/client/v3/nothing' });
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body)).toMatchObject({ errcode: 'M_UNRECOGNIZED' });
    expect(unknown.headers['access-control-allow-origin']).toBe('*');
    const wrongMethod = await send(url, { method: 'PUT', path: '/_test/echo/hello', body: '{}' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.allow).toBe('POST, OPTIONS');
    expect(JSON.parse(wrongMethod.body)).toMatchObject({ errcode: 'M_UNRECOGNIZED' });
  });

  it('never answers bad URLs with anything but a Matrix error', async () => {
    for (const path of ['/_test/echo/%E0%A4%A', '/%', '/_test/list?limit=%ZZ']) {
      const response = await send(url, { method: 'GET', path });
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
      expect(JSON.parse(response.body)).toHaveProperty('errcode');
    }
  });

  it('answers OPTIONS without running the endpoint', async () => {
    const response = await send(url, { method: 'OPTIONS', path: '/_test/crash' });
    expect(response.status).toBe(204);
    expect(response.headers['access-control-allow-methods']).toBe(
      'GET, POST, PUT, DELETE, OPTIONS',
    );
  });
});

describe('closing the HTTP app', () => {
  it('does not wait out the keep-alive timeout of a connection whose response ends after close began', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'marina-http-close-'));
    const logger = pino({ level: 'silent' });
    const homeserver = await startHomeserver(
      await new LocalTenantStore(dataDir).create('alpha.test'),
      { logger, defaultPublicBaseUrl: 'http://alpha.test' },
    );
    const slow = defineEndpoint({
      method: 'GET',
      paths: ['/_test/slow'],
      auth: 'none',
      handler: async () => {
        await new Promise((resolve) => setTimeout(resolve, 300));
        return { done: true };
      },
    });
    const app = createHttpApp({
      logger,
      endpoints: [slow],
      resolveTenant: async () => homeserver.context,
    });
    const url = new URL(await app.listen({ host: '127.0.0.1', port: 0 }));
    const agent = new Agent({ keepAlive: true });
    try {
      const answered = new Promise<number>((resolve, reject) => {
        const req = request(
          { hostname: url.hostname, port: url.port, path: '/_test/slow', agent },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end();
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const closing = performance.now();
      await app.close();
      // The request in flight was answered, and close() did not wait 72 s for its connection.
      expect(await answered).toBe(200);
      expect(performance.now() - closing).toBeLessThan(5_000);
    } finally {
      agent.destroy();
      await homeserver.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
