import { describe, expect, it } from 'vitest';
import { decodeBase64 } from '../core/base64.js';
import type { JsonObject } from '../core/canonical-json.js';
import { generateSigningKey, signingKeyFromSeed } from './signing-key.js';
import { signJson, signatureKeyIds, verifyJsonSignature } from './signing.js';

// appendices: "Cryptographic Test Vectors" — server name "domain", key ID "ed25519:1".
const SPEC_KEY = signingKeyFromSeed(
  decodeBase64('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1'),
  '1',
);
const SPEC_PUBLIC_KEY = 'XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI';

const SIGNED_EMPTY = {
  signatures: {
    domain: {
      'ed25519:1':
        'K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ',
    },
  },
};

const SIGNED_ONE_TWO = {
  one: 1,
  signatures: {
    domain: {
      'ed25519:1':
        'KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw',
    },
  },
  two: 'Two',
};

const verifySpec = (obj: JsonObject) =>
  verifyJsonSignature(obj, 'domain', 'ed25519:1', SPEC_PUBLIC_KEY);

describe('signJson (spec test vectors)', () => {
  it('signs {}', () => {
    expect(signJson({}, 'domain', SPEC_KEY)).toEqual(SIGNED_EMPTY);
  });

  it('signs {"one":1,"two":"Two"}', () => {
    expect(signJson({ one: 1, two: 'Two' }, 'domain', SPEC_KEY)).toEqual(SIGNED_ONE_TWO);
  });

  it('verifies both vectors', () => {
    expect(verifySpec(SIGNED_EMPTY)).toBe(true);
    expect(verifySpec(SIGNED_ONE_TWO)).toBe(true);
  });
});

describe('signJson', () => {
  it('does not modify its input', () => {
    const input = { one: 1, nested: { a: [1, 2] }, signatures: { other: { 'ed25519:x': 'sig' } } };
    const before = structuredClone(input);
    const signed = signJson(input, 'domain', SPEC_KEY);
    expect(input).toEqual(before);
    signed.nested.a.push(3);
    expect(input.nested.a).toEqual([1, 2]);
  });

  it('leaves unsigned out of the signature but keeps it in the result', () => {
    const signed = signJson({ unsigned: { age_ts: 922834800000 } }, 'domain', SPEC_KEY);
    expect(signed.signatures).toEqual(SIGNED_EMPTY.signatures);
    expect(signed.unsigned).toEqual({ age_ts: 922834800000 });
    expect(verifySpec({ ...signed, unsigned: { age_ts: 1 } })).toBe(true);
  });

  it('keeps signatures by other servers and other keys, and they do not affect its own', () => {
    const other = generateSigningKey('other');
    const byOther = signJson({}, 'other.example', other);
    const twice = signJson(
      signJson(byOther, 'domain', generateSigningKey('old')),
      'domain',
      SPEC_KEY,
    );
    expect(twice.signatures.domain?.['ed25519:1']).toBe(
      SIGNED_EMPTY.signatures.domain['ed25519:1'],
    );
    expect(signatureKeyIds(twice, 'domain').sort()).toEqual(['ed25519:1', 'ed25519:old']);
    expect(verifyJsonSignature(twice, 'other.example', 'ed25519:other', other.publicKey)).toBe(
      true,
    );
    expect(verifySpec(twice)).toBe(true);
  });

  it('replaces its own earlier signature under the same key ID', () => {
    const stale = { signatures: { domain: { 'ed25519:1': 'stale' } } };
    expect(signJson(stale, 'domain', SPEC_KEY)).toEqual(SIGNED_EMPTY);
  });

  it('refuses malformed existing signatures', () => {
    expect(() => signJson({ signatures: [] }, 'domain', SPEC_KEY)).toThrow(TypeError);
    expect(() => signJson({ signatures: { a: 'x' } }, 'domain', SPEC_KEY)).toThrow(TypeError);
    expect(() => signJson({ signatures: { a: { k: 1 } } }, 'domain', SPEC_KEY)).toThrow(TypeError);
  });

  it('keeps a "__proto__" signing name from the wire as a plain entry', () => {
    const input = JSON.parse('{"signatures":{"__proto__":{"ed25519:x":"sig"}}}') as JsonObject;
    const signed = signJson(input, 'domain', SPEC_KEY);
    expect(Object.keys(signed.signatures).sort()).toEqual(['__proto__', 'domain']);
    expect(signatureKeyIds(signed, '__proto__')).toEqual(['ed25519:x']);
  });
});

describe('verifyJsonSignature', () => {
  it('rejects tampered content', () => {
    expect(verifySpec({ ...SIGNED_ONE_TWO, one: 2 })).toBe(false);
    expect(verifySpec({ ...SIGNED_ONE_TWO, three: 3 })).toBe(false);
    const { two: _two, ...withoutTwo } = SIGNED_ONE_TWO;
    expect(verifySpec(withoutTwo)).toBe(false);
  });

  it('rejects a signature moved to another object', () => {
    expect(verifySpec({ ...SIGNED_EMPTY, one: 1, two: 'Two' })).toBe(false);
  });

  it('rejects the wrong signing name, key ID or public key', () => {
    const other = generateSigningKey();
    expect(verifyJsonSignature(SIGNED_EMPTY, 'domain2', 'ed25519:1', SPEC_PUBLIC_KEY)).toBe(false);
    expect(verifyJsonSignature(SIGNED_EMPTY, 'domain', 'ed25519:2', SPEC_PUBLIC_KEY)).toBe(false);
    expect(verifyJsonSignature(SIGNED_EMPTY, 'domain', 'ed25519:1', other.publicKey)).toBe(false);
  });

  it('rejects algorithms other than ed25519', () => {
    const signature = SIGNED_EMPTY.signatures.domain['ed25519:1'];
    const obj = { signatures: { domain: { 'curve25519:1': signature } } };
    expect(verifyJsonSignature(obj, 'domain', 'curve25519:1', SPEC_PUBLIC_KEY)).toBe(false);
  });

  it('returns false for missing or malformed signatures, without throwing', () => {
    for (const obj of [
      {},
      { signatures: null },
      { signatures: [] },
      { signatures: { domain: 'x' } },
      { signatures: { domain: { 'ed25519:1': 5 } } },
      { signatures: { domain: { 'ed25519:1': 'not base64!' } } },
    ] as JsonObject[]) {
      expect(verifySpec(obj)).toBe(false);
    }
  });

  it('returns false for objects that are not canonical JSON, without throwing', () => {
    expect(verifySpec({ ...SIGNED_EMPTY, float: 1.5 })).toBe(false);
  });
});
