/**
 * Ed25519 server signing keys (server-server API "Retrieving server keys"), built from a 32-byte
 * seed with node:crypto, and Synapse's signing key file format: one `ed25519 <version> <seed>`
 * line per key, the seed in unpadded standard base64.
 */

import {
  createPrivateKey,
  createPublicKey,
  randomBytes,
  randomInt,
  sign,
  verify,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { decodeBase64, encodeBase64 } from '../core/base64.js';

export const ED25519 = 'ed25519';
export const ED25519_SEED_LENGTH = 32;
const ED25519_PUBLIC_KEY_LENGTH = 32;
const ED25519_SIGNATURE_LENGTH = 64;

// PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410): node:crypto imports private keys only as DER/PEM/JWK.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

// Key versions: keys.yaml "The version must have characters matching the regular expression [a-zA-Z0-9_]".
const KEY_VERSION = /^[A-Za-z0-9_]+$/;
const ALPHANUMERIC = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

export interface SigningKey {
  /** `ed25519:<version>`: the key ID under which signatures and the public key are published. */
  readonly keyId: string;
  readonly version: string;
  /** Raw public key, unpadded standard base64. */
  readonly publicKey: string;
  sign(data: Uint8Array): Uint8Array;
  /** A copy of the 32-byte seed, for writing the key file (a method so it stays out of logs). */
  exportSeed(): Uint8Array;
}

export class SigningKeyFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SigningKeyFileError';
  }
}

export function isValidKeyVersion(version: string): boolean {
  return KEY_VERSION.test(version);
}

/** Builds a signing key from its 32-byte seed. */
export function signingKeyFromSeed(seed: Uint8Array, version: string): SigningKey {
  if (seed.length !== ED25519_SEED_LENGTH) {
    throw new TypeError(`Ed25519 seed must be ${ED25519_SEED_LENGTH} bytes, got ${seed.length}`);
  }
  if (!isValidKeyVersion(version)) {
    throw new TypeError(`Invalid signing key version ${JSON.stringify(version)}: use [A-Za-z0-9_]`);
  }
  const seedCopy = new Uint8Array(seed);
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seedCopy]),
    format: 'der',
    type: 'pkcs8',
  });
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') throw new Error('node:crypto returned no Ed25519 public key');
  const publicKey = encodeBase64(Buffer.from(jwk.x, 'base64url'));
  return {
    keyId: `${ED25519}:${version}`,
    version,
    publicKey,
    sign: (data) => new Uint8Array(sign(null, data, privateKey)),
    exportSeed: () => new Uint8Array(seedCopy),
  };
}

/** A fresh random key; the version defaults to Synapse's style, `a_` + 4 random alphanumerics. */
export function generateSigningKey(version?: string): SigningKey {
  return signingKeyFromSeed(randomBytes(ED25519_SEED_LENGTH), version ?? randomKeyVersion());
}

function randomKeyVersion(): string {
  let suffix = '';
  for (let i = 0; i < 4; i++) suffix += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  return `a_${suffix}`;
}

/**
 * Parses a Synapse signing key file. Blank lines are skipped; any other line must be
 * `ed25519 <version> <base64 seed>`, else a `SigningKeyFileError` names the line.
 */
export function parseSigningKeyFile(text: string): SigningKey[] {
  const keys: SigningKey[] = [];
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '') return;
    const where = `signing key file line ${index + 1}`;
    const parts = line.split(/\s+/);
    if (parts.length !== 3) {
      throw new SigningKeyFileError(`${where}: expected "ed25519 <version> <base64 seed>"`);
    }
    const [algorithm, version, seedBase64] = parts as [string, string, string];
    if (algorithm !== ED25519) {
      throw new SigningKeyFileError(`${where}: unsupported algorithm ${JSON.stringify(algorithm)}`);
    }
    if (!isValidKeyVersion(version)) {
      throw new SigningKeyFileError(`${where}: invalid key version ${JSON.stringify(version)}`);
    }
    if (seen.has(version)) {
      throw new SigningKeyFileError(`${where}: duplicate key version ${JSON.stringify(version)}`);
    }
    let seed: Uint8Array;
    try {
      seed = decodeBase64(seedBase64);
    } catch {
      throw new SigningKeyFileError(`${where}: seed is not valid base64`);
    }
    if (seed.length !== ED25519_SEED_LENGTH) {
      throw new SigningKeyFileError(
        `${where}: seed must be ${ED25519_SEED_LENGTH} bytes, got ${seed.length}`,
      );
    }
    seen.add(version);
    keys.push(signingKeyFromSeed(seed, version));
  });
  return keys;
}

/** Writes keys in Synapse's signing key file format (readable by `parseSigningKeyFile`). */
export function formatSigningKeyFile(keys: readonly SigningKey[]): string {
  return keys
    .map((key) => `${ED25519} ${key.version} ${encodeBase64(key.exportSeed())}\n`)
    .join('');
}

/** Checks an Ed25519 signature; malformed keys or signatures give `false`, never an exception. */
export function verifyEd25519(
  publicKeyBase64: string,
  data: Uint8Array,
  signatureBase64: string,
): boolean {
  try {
    const publicKey = decodeBase64(publicKeyBase64);
    const signature = decodeBase64(signatureBase64);
    if (publicKey.length !== ED25519_PUBLIC_KEY_LENGTH) return false;
    if (signature.length !== ED25519_SIGNATURE_LENGTH) return false;
    return verify(null, data, ed25519PublicKey(publicKey), signature);
  } catch {
    return false;
  }
}

function ed25519PublicKey(raw: Uint8Array): KeyObject {
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') },
    format: 'jwk',
  });
}
