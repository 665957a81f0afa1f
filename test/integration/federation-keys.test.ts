import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyJsonSignature } from '../../src/protocol/signing.js';
import { xMatrixHeader } from '../../src/protocol/x-matrix.js';
import type { AccountServer } from '../helpers/account-server.js';
import { startFederationPair } from '../helpers/federation-pair.js';

/**
 * Keys and request authentication between two real tenants over HTTP: alpha fetches beta's keys
 * itself, serves them as a notary, and a request signed by beta verifies at alpha while bad
 * signatures, wrong destinations and missing headers get 401 M_UNAUTHORIZED.
 */
describe('federation keys and request authentication', () => {
  let alpha: AccountServer;
  let beta: AccountServer;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    ({ alpha, beta, stop } = await startFederationPair());
  });
  afterAll(async () => stop?.());

  it('fetches, checks and caches another server’s keys, and notarises them', async () => {
    const betaKey = beta.context.services.serverKeys.signingKey;
    const got = await alpha.context.services.federation.remoteKeys.verifyKey(
      'beta.test',
      betaKey.keyId,
    );
    expect(got).toBe(betaKey.publicKey);
    // Cached: served by the notary endpoint with alpha's signature added.
    const notary = await alpha.call('GET', '/_matrix/key/v2/query/beta.test');
    expect(notary.status).toBe(200);
    const [document] = notary.body.server_keys;
    expect(document.server_name).toBe('beta.test');
    expect(document.verify_keys[betaKey.keyId].key).toBe(betaKey.publicKey);
    const alphaKey = alpha.context.services.serverKeys.signingKey;
    expect(verifyJsonSignature(document, 'alpha.test', alphaKey.keyId, alphaKey.publicKey)).toBe(
      true,
    );
    expect(verifyJsonSignature(document, 'beta.test', betaKey.keyId, betaKey.publicKey)).toBe(true);
    const batch = await alpha.call('POST', '/_matrix/key/v2/query', {
      body: { server_keys: { 'beta.test': {}, 'unreachable.invalid': {} } },
    });
    expect(batch.status).toBe(200);
    expect(batch.body.server_keys.map((d: { server_name: string }) => d.server_name)).toEqual([
      'beta.test',
    ]);
    // An unknown key of a known server is not invented.
    expect(
      await alpha.context.services.federation.remoteKeys.verifyKey('beta.test', 'ed25519:nope'),
    ).toBeUndefined();
  });

  it('accepts a request signed by the origin and refuses every other kind with 401', async () => {
    const key = beta.context.services.serverKeys.signingKey;
    const path = '/_matrix/federation/v1/query/profile?user_id=%40nobody%3Aalpha.test';
    const signed = (overrides: { destination?: string; uri?: string; signWith?: typeof key }) =>
      xMatrixHeader(
        {
          method: 'GET',
          uri: overrides.uri ?? path,
          origin: 'beta.test',
          destination: overrides.destination ?? 'alpha.test',
        },
        overrides.signWith ?? key,
      );
    const call = (authorization?: string) =>
      alpha.call('GET', path, authorization === undefined ? {} : { headers: { authorization } });

    // The signature verifies: the endpoint runs (404: no such user), not 401.
    expect((await call(signed({}))).status).not.toBe(401);
    for (const bad of [
      undefined,
      'X-Matrix origin="beta.test"',
      signed({ destination: 'gamma.test' }),
      signed({ uri: '/_matrix/federation/v1/query/profile?user_id=other' }),
      signed({ signWith: alpha.context.services.serverKeys.signingKey }),
    ]) {
      const response = await call(bad);
      expect(response, String(bad)).toMatchObject({
        status: 401,
        body: { errcode: 'M_UNAUTHORIZED' },
      });
    }
  });
});
