import { createPublicKey, verify } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalTenantStore } from '../../src/controller/local-tenant-store.js';
import { canonicalJsonBytes } from '../../src/core/canonical-json.js';
import { Shard } from '../../src/shard/shard.js';

function get(
  port: number,
  path: string,
  host: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ hostname: '127.0.0.1', port, path, headers: { Host: host } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

function signatureValid(keys: Record<string, unknown>, serverName: string): boolean {
  const { signatures, ...rest } = keys as {
    signatures: Record<string, Record<string, string>>;
  } & Record<string, unknown>;
  const verifyKeys = rest.verify_keys as Record<string, { key: string }>;
  const [keyId, { key }] = Object.entries(verifyKeys)[0]!;
  const publicKey = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(key, 'base64').toString('base64url') },
    format: 'jwk',
  });
  const signature = signatures[serverName]?.[keyId];
  return (
    !!signature &&
    verify(null, canonicalJsonBytes(rest), publicKey, Buffer.from(signature, 'base64'))
  );
}

describe('a shard with several tenants', () => {
  let dataDir: string;
  let shard: Shard;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'marina-shard-'));
    const store = new LocalTenantStore(dataDir);
    const alpha = await store.create('alpha.test');
    const beta = await store.create('beta.test');
    const broken = await store.create('broken.test');
    await writeFile(broken.signing_key_path, 'not a signing key\n');
    shard = await Shard.start({
      logger: pino({ level: 'silent' }),
      tenants: [alpha, beta, broken],
      listen: { host: '127.0.0.1', port: 0 },
      publicBaseUrlFor: (serverName) => `https://${serverName}`,
    });
  });

  afterAll(async () => {
    await shard?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('serves each tenant its own signed keys by Host', async () => {
    const alpha = await get(shard.port, '/_matrix/key/v2/server', 'alpha.test:8448');
    const beta = await get(shard.port, '/_matrix/key/v2/server', 'BETA.test');
    expect(alpha.body.server_name).toBe('alpha.test');
    expect(beta.body.server_name).toBe('beta.test');
    expect(alpha.body.verify_keys).not.toEqual(beta.body.verify_keys);
    expect(signatureValid(alpha.body, 'alpha.test')).toBe(true);
    expect(signatureValid(beta.body, 'beta.test')).toBe(true);
    expect(
      signatureValid(
        {
          ...alpha.body,
          signatures: {
            'alpha.test': (beta.body.signatures as Record<string, unknown>)['beta.test'],
          },
        },
        'alpha.test',
      ),
    ).toBe(false);
  });

  it('gives each tenant its own well-known', async () => {
    const alpha = await get(shard.port, '/.well-known/matrix/client', 'alpha.test');
    expect(alpha.body).toEqual({ 'm.homeserver': { base_url: 'https://alpha.test' } });
  });

  it('answers an unknown host with 404 M_NOT_FOUND', async () => {
    const response = await get(shard.port, '/_matrix/client/versions', 'nobody.test');
    expect(response.status).toBe(404);
    expect(response.body.errcode).toBe('M_NOT_FOUND');
  });

  it('keeps serving the others when one tenant fails to start', async () => {
    const broken = await get(shard.port, '/_matrix/key/v2/server', 'broken.test');
    expect(broken.status).toBe(503);
    expect(broken.body.errcode).toBe('M_UNKNOWN');
    const alpha = await get(shard.port, '/_matrix/key/v2/server', 'alpha.test');
    expect(alpha.status).toBe(200);
  });
});
