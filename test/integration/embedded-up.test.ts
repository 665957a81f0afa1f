import { createPublicKey, verify } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJsonBytes } from '../../src/core/canonical-json.js';
import { startMarina, runMarina, type MarinaProcess } from '../helpers/marina-process.js';

/** Checks an Ed25519 signature with node:crypto alone, independent of Marina's signing code. */
function verifiesIndependently(
  signed: Record<string, unknown>,
  serverName: string,
  keyId: string,
  publicKey: string,
): boolean {
  const {
    signatures,
    unsigned: _unsigned,
    ...rest
  } = signed as { signatures: Record<string, Record<string, string>>; unsigned?: unknown };
  const signature = signatures[serverName]?.[keyId];
  if (!signature) return false;
  const key = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey, 'base64').toString('base64url') },
    format: 'jwk',
  });
  return verify(null, canonicalJsonBytes(rest), key, Buffer.from(signature, 'base64'));
}

describe('marina up (embedded default)', () => {
  let dataDir: string;
  let marina: MarinaProcess;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'marina-up-'));
    marina = await startMarina(['up', '--data-dir', dataDir, '--listen', '127.0.0.1:0']);
  });

  afterAll(async () => {
    await marina?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates the tenant localhost and says where its data is', () => {
    const created = marina.logLines.find((line) =>
      String(line.msg).startsWith('created tenant localhost'),
    );
    expect(created?.tenant_dir).toBe(join(dataDir, 'tenants', 'localhost'));
    const serving = marina.logLines.find((line) =>
      String(line.msg).startsWith('serving localhost'),
    );
    expect(serving?.data_dir).toBe(dataDir);
  });

  it('serves /_matrix/client/versions', async () => {
    const response = await fetch(`${marina.url}/_matrix/client/versions`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await response.json()) as { versions: unknown; unstable_features: unknown };
    // v1.1 … v1.19: matrix-js-sdk clients need one of v1.1 … v1.9 to accept the server.
    expect(body.versions).toEqual(Array.from({ length: 19 }, (_, i) => `v1.${i + 1}`));
    expect(body.unstable_features).toEqual({});
  });

  it('publishes a correctly signed /_matrix/key/v2/server matching `tenant show`', async () => {
    const shown = await runMarina(['tenant', 'show', 'localhost', '--data-dir', dataDir, '--json']);
    expect(shown.code).toBe(0);
    const settings = JSON.parse(shown.stdout) as Record<string, string>;
    expect(settings.server_name).toBe('localhost');
    expect(settings.registration_shared_secret?.length).toBeGreaterThanOrEqual(32);
    expect(settings.signing_key_id).toMatch(/^ed25519:[A-Za-z0-9_]+$/);

    const before = Date.now();
    const response = await fetch(`${marina.url}/_matrix/key/v2/server`);
    expect(response.status).toBe(200);
    const keys = (await response.json()) as Record<string, unknown> & {
      verify_keys: Record<string, { key: string }>;
      valid_until_ts: number;
    };
    expect(keys.server_name).toBe('localhost');
    expect(keys.old_verify_keys).toEqual({});
    expect(keys.verify_keys).toEqual({ [settings.signing_key_id!]: { key: settings.verify_key } });
    expect(keys.valid_until_ts).toBeGreaterThan(before);
    expect(
      verifiesIndependently(keys, 'localhost', settings.signing_key_id!, settings.verify_key!),
    ).toBe(true);
    const tampered = { ...keys, valid_until_ts: keys.valid_until_ts + 1 };
    expect(
      verifiesIndependently(tampered, 'localhost', settings.signing_key_id!, settings.verify_key!),
    ).toBe(false);
  });

  it('answers unknown paths with 404 M_UNRECOGNIZED and wrong methods with 405 M_UNRECOGNIZED', async () => {
    const unknown = await fetch(`${marina.url}/_matrix/client/v3/no_such_endpoint`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ errcode: 'M_UNRECOGNIZED' });

    const wrongMethod = await fetch(`${marina.url}/_matrix/client/versions`, {
      method: 'POST',
      body: '{}',
    });
    expect(wrongMethod.status).toBe(405);
    expect(await wrongMethod.json()).toMatchObject({ errcode: 'M_UNRECOGNIZED' });
  });

  it('answers CORS preflight on any path and sends CORS headers on responses', async () => {
    const preflight = await fetch(`${marina.url}/_matrix/client/v3/login`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://app.element.io', 'Access-Control-Request-Method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('Authorization');

    const error = await fetch(`${marina.url}/nowhere`);
    expect(error.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('serves the well-known documents and /health', async () => {
    const client = await fetch(`${marina.url}/.well-known/matrix/client`);
    expect(await client.json()).toEqual({
      'm.homeserver': { base_url: `http://localhost:${new URL(marina.url).port}` },
    });
    const server = await fetch(`${marina.url}/.well-known/matrix/server`);
    expect(await server.json()).toEqual({ 'm.server': `localhost:${new URL(marina.url).port}` });
    const health = await fetch(`${marina.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe('OK');
  });

  it('logs each request with the tenant server_name', async () => {
    await fetch(`${marina.url}/_matrix/client/versions?access_token=secret`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const line = marina.logLines.find(
      (entry) => entry.msg === 'request' && entry.path === '/_matrix/client/versions',
    );
    expect(line).toMatchObject({ server_name: 'localhost', method: 'GET', status: 200 });
    expect(JSON.stringify(marina.logLines)).not.toContain('secret');
  });
});

describe('marina up lifecycle', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    'stops cleanly on %s and keeps the tenant across restarts',
    async (signal) => {
      const dataDir = await mkdtemp(join(tmpdir(), 'marina-up-'));
      try {
        const first = await startMarina(['up', '--data-dir', dataDir, '--listen', '127.0.0.1:0']);
        const firstKeys = (await (await fetch(`${first.url}/_matrix/key/v2/server`)).json()) as {
          verify_keys: object;
        };
        expect(await first.stop(signal)).toBe(0);
        expect(first.logLines.some((line) => line.msg === 'stopped')).toBe(true);

        const second = await startMarina(['up', '--data-dir', dataDir, '--listen', '127.0.0.1:0']);
        expect(second.logLines.some((line) => String(line.msg).startsWith('created tenant'))).toBe(
          false,
        );
        const secondKeys = (await (await fetch(`${second.url}/_matrix/key/v2/server`)).json()) as {
          verify_keys: object;
        };
        expect(secondKeys.verify_keys).toEqual(firstKeys.verify_keys);
        expect(await second.stop(signal)).toBe(0);
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  );

  it('explains a bad --listen value and a missing tenant', async () => {
    const badListen = await runMarina(['up', '--listen', 'nonsense']);
    expect(badListen.code).toBe(1);
    expect(badListen.stderr).toContain('--listen wants HOST:PORT');

    const dataDir = await mkdtemp(join(tmpdir(), 'marina-show-'));
    try {
      const missing = await runMarina([
        'tenant',
        'show',
        'nobody.example',
        '--data-dir',
        dataDir,
        '--json',
      ]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('no tenant nobody.example');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
