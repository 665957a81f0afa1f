import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { MatrixError } from '../core/errors.js';
import { createInternalApi, type InternalApi } from './internal-api.js';

const apis: InternalApi[] = [];
afterEach(async () => {
  for (const api of apis.splice(0)) await api.close();
});

async function start(): Promise<string> {
  const api = createInternalApi({
    logger: pino({ level: 'silent' }),
    token: 'secret-token',
    routes: [
      {
        method: 'PUT',
        path: '/things/:name',
        handler: async ({ params, query, body }) => ({
          status: 201,
          body: { name: params.name, flag: query.flag ?? null, body },
        }),
      },
      {
        method: 'GET',
        path: '/missing',
        handler: async () => {
          throw new MatrixError('M_NOT_FOUND', 'No such thing', { status: 404 });
        },
      },
      {
        method: 'GET',
        path: '/crash',
        handler: async () => {
          throw new Error('secret details');
        },
      },
      {
        method: 'GET',
        path: '/metrics',
        public: true,
        handler: async () => ({ body: 'up 1\n', contentType: 'text/plain; version=0.0.4' }),
      },
    ],
  });
  apis.push(api);
  return api.listen('127.0.0.1', 0);
}

const auth = { Authorization: 'Bearer secret-token' };

describe('createInternalApi', () => {
  it('serves JSON routes to callers with the token', async () => {
    const url = await start();
    const response = await fetch(`${url}/things/a%20b?flag=on`, {
      method: 'PUT',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ x: 1 }),
    });
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ name: 'a b', flag: 'on', body: { x: 1 } });
  });

  it('refuses callers without the right token with 401 M_UNKNOWN_TOKEN', async () => {
    const url = await start();
    const attempts: Array<Record<string, string>> = [
      {},
      { Authorization: 'Bearer wrong' },
      { Authorization: 'secret-token' },
    ];
    for (const headers of attempts) {
      const response = await fetch(`${url}/things/a`, { method: 'PUT', headers });
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ errcode: 'M_UNKNOWN_TOKEN' });
    }
  });

  it('answers errors as Matrix errors, hiding the details of a crash', async () => {
    const url = await start();
    const missing = await fetch(`${url}/missing`, { headers: auth });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ errcode: 'M_NOT_FOUND', error: 'No such thing' });
    const crash = await fetch(`${url}/crash`, { headers: auth });
    expect(crash.status).toBe(500);
    const body = (await crash.json()) as { errcode: string; error: string };
    expect(body.errcode).toBe('M_UNKNOWN');
    expect(body.error).not.toContain('secret');
    const unknown = await fetch(`${url}/nowhere`, { headers: auth });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ errcode: 'M_UNRECOGNIZED' });
  });

  it('serves public routes without the token, as text when asked', async () => {
    const url = await start();
    const response = await fetch(`${url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    expect(await response.text()).toBe('up 1\n');
  });
});
