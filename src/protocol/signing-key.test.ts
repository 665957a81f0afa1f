import { describe, expect, it } from 'vitest';
import { decodeBase64, encodeBase64 } from '../core/base64.js';
import {
  SigningKeyFileError,
  formatSigningKeyFile,
  generateSigningKey,
  parseSigningKeyFile,
  signingKeyFromSeed,
  verifyEd25519,
} from './signing-key.js';

// appendices: "Cryptographic Test Vectors" (the seed's last character carries non-zero padding bits).
const SPEC_SEED = 'YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1';
// Public key of that seed, as also published by other implementations' tests.
const SPEC_PUBLIC_KEY = 'XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI';
// appendices: signature of `{}` with that key.
const EMPTY_OBJECT_SIGNATURE =
  'K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ';

const utf8 = (text: string) => new TextEncoder().encode(text);

describe('signingKeyFromSeed', () => {
  it('derives the spec test vector key', () => {
    const key = signingKeyFromSeed(decodeBase64(SPEC_SEED), '1');
    expect(key.keyId).toBe('ed25519:1');
    expect(key.version).toBe('1');
    expect(key.publicKey).toBe(SPEC_PUBLIC_KEY);
    expect(encodeBase64(key.sign(utf8('{}')))).toBe(EMPTY_OBJECT_SIGNATURE);
  });

  it('rejects seeds that are not 32 bytes and invalid versions', () => {
    expect(() => signingKeyFromSeed(new Uint8Array(31), 'a')).toThrow(/32 bytes/);
    expect(() => signingKeyFromSeed(new Uint8Array(33), 'a')).toThrow(/32 bytes/);
    for (const version of ['', 'a-b', 'a:b', 'a b', 'é']) {
      expect(() => signingKeyFromSeed(new Uint8Array(32), version)).toThrow(/version/);
    }
  });

  it('exports a copy of the seed and keeps it out of JSON', () => {
    const seed = decodeBase64(SPEC_SEED);
    const key = signingKeyFromSeed(seed, '1');
    seed.fill(0); // the key must not alias the caller's buffer
    const exported = key.exportSeed();
    expect(encodeBase64(exported)).toBe('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0');
    exported.fill(0);
    expect(encodeBase64(key.exportSeed())).toBe('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0');
    expect(JSON.stringify(key)).not.toContain('YJDBA9');
    expect(key.publicKey).toBe(SPEC_PUBLIC_KEY);
  });
});

describe('generateSigningKey', () => {
  it('uses a Synapse-style random version when none is given', () => {
    const key = generateSigningKey();
    expect(key.version).toMatch(/^a_[A-Za-z0-9]{4}$/);
    expect(key.keyId).toBe(`ed25519:${key.version}`);
    expect(key.exportSeed()).toHaveLength(32);
  });

  it('uses the given version and makes a fresh key each time', () => {
    const a = generateSigningKey('auto');
    const b = generateSigningKey('auto');
    expect(a.keyId).toBe('ed25519:auto');
    expect(a.publicKey).not.toBe(b.publicKey);
    expect(() => generateSigningKey('not valid')).toThrow(/version/);
  });

  it('signs data that verifies with its public key only', () => {
    const key = generateSigningKey();
    const data = utf8('{"hello":"world"}');
    const signature = encodeBase64(key.sign(data));
    expect(verifyEd25519(key.publicKey, data, signature)).toBe(true);
    expect(verifyEd25519(generateSigningKey().publicKey, data, signature)).toBe(false);
  });
});

describe('signing key file', () => {
  it('formats keys as Synapse does, re-encoding the seed canonically', () => {
    const key = signingKeyFromSeed(decodeBase64(SPEC_SEED), '1');
    expect(formatSigningKeyFile([key])).toBe(
      'ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0\n',
    );
    expect(formatSigningKeyFile([])).toBe('');
  });

  it('parses the spec seed into the spec key', () => {
    const [key, ...rest] = parseSigningKeyFile(`ed25519 1 ${SPEC_SEED}\n`);
    expect(rest).toEqual([]);
    expect(key?.keyId).toBe('ed25519:1');
    expect(key?.publicKey).toBe(SPEC_PUBLIC_KEY);
  });

  it('round-trips several keys, tolerating blank lines, CRLF and extra spaces', () => {
    const keys = [generateSigningKey('a_old'), generateSigningKey('a_new')];
    const text = formatSigningKeyFile(keys);
    const parsed = parseSigningKeyFile(`\n${text.replace(/\n/g, '\r\n').replace(/ /g, '  ')}\n\n`);
    expect(parsed.map((k) => [k.keyId, k.publicKey])).toEqual(
      keys.map((k) => [k.keyId, k.publicKey]),
    );
    expect(formatSigningKeyFile(parsed)).toBe(text);
  });

  it('accepts padded base64 seeds', () => {
    const [key] = parseSigningKeyFile('ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0=');
    expect(key?.publicKey).toBe(SPEC_PUBLIC_KEY);
  });

  it('parses an empty file to no keys', () => {
    expect(parseSigningKeyFile('')).toEqual([]);
    expect(parseSigningKeyFile('\n  \n')).toEqual([]);
  });

  it.each([
    ['a missing field', 'ed25519 1', /line 2: expected "ed25519 <version> <base64 seed>"/],
    ['an extra field', `ed25519 1 ${SPEC_SEED} extra`, /line 2: expected/],
    ['an unknown algorithm', `curve25519 1 ${SPEC_SEED}`, /line 2: unsupported algorithm/],
    ['an invalid version', `ed25519 a-b ${SPEC_SEED}`, /line 2: invalid key version/],
    ['a seed that is not base64', 'ed25519 1 not*base64', /line 2: seed is not valid base64/],
    ['a short seed', 'ed25519 1 AAAA', /line 2: seed must be 32 bytes, got 3/],
    ['a duplicate version', `ed25519 a_old ${SPEC_SEED}`, /line 2: duplicate key version/],
  ])('rejects %s with the line number', (_case, badLine, message) => {
    const text = `ed25519 a_old ${SPEC_SEED}\n${badLine}\n`;
    expect(() => parseSigningKeyFile(text)).toThrow(SigningKeyFileError);
    expect(() => parseSigningKeyFile(text)).toThrow(message);
  });
});

describe('verifyEd25519', () => {
  const data = utf8('{}');

  it('accepts the spec signature of {}', () => {
    expect(verifyEd25519(SPEC_PUBLIC_KEY, data, EMPTY_OBJECT_SIGNATURE)).toBe(true);
  });

  it('rejects other data and altered signatures', () => {
    expect(verifyEd25519(SPEC_PUBLIC_KEY, utf8('{ }'), EMPTY_OBJECT_SIGNATURE)).toBe(false);
    const bytes = decodeBase64(EMPTY_OBJECT_SIGNATURE);
    bytes[10] = (bytes[10] ?? 0) ^ 1;
    expect(verifyEd25519(SPEC_PUBLIC_KEY, data, encodeBase64(bytes))).toBe(false);
  });

  it.each([
    ['an empty public key', '', EMPTY_OBJECT_SIGNATURE],
    ['a public key that is not base64', '!!!!', EMPTY_OBJECT_SIGNATURE],
    ['a 31-byte public key', encodeBase64(new Uint8Array(31)), EMPTY_OBJECT_SIGNATURE],
    ['an all-zero public key', encodeBase64(new Uint8Array(32)), EMPTY_OBJECT_SIGNATURE],
    ['an empty signature', SPEC_PUBLIC_KEY, ''],
    ['a signature that is not base64', SPEC_PUBLIC_KEY, 'K8280/U9SSy9IVtjBuVe*'],
    ['a truncated signature', SPEC_PUBLIC_KEY, EMPTY_OBJECT_SIGNATURE.slice(0, 80)],
  ])('returns false, without throwing, for %s', (_case, publicKey, signature) => {
    expect(verifyEd25519(publicKey, data, signature)).toBe(false);
  });
});
