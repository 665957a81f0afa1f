import { describe, expect, it } from 'vitest';
import { generateSigningKey } from '../../protocol/signing-key.js';
import { signJson } from '../../protocol/signing.js';
import {
  checkDeviceKeys,
  crossSigningPublicKey,
  isEd25519PublicKey,
  sameKeyContent,
  splitKeyName,
  type DeviceKeysObject,
} from './key-shapes.js';

const ALICE = '@alice:alpha.test';

function deviceKeys(deviceId = 'PHONE'): DeviceKeysObject {
  const key = generateSigningKey(deviceId);
  return signJson(
    {
      user_id: ALICE,
      device_id: deviceId,
      algorithms: ['m.olm.v1.curve25519-aes-sha2'],
      keys: { [`ed25519:${deviceId}`]: key.publicKey, [`curve25519:${deviceId}`]: 'abc' },
      signatures: {},
    },
    ALICE,
    key,
  ) as DeviceKeysObject;
}

describe('key names and public keys', () => {
  it('splits <algorithm>:<key ID> at the first colon; both parts must be there', () => {
    expect(splitKeyName('signed_curve25519:AAA:B', 'key')).toEqual({
      algorithm: 'signed_curve25519',
      keyId: 'AAA:B',
    });
    for (const bad of ['', 'nocolon', ':id', 'algo:', `a:${'x'.repeat(300)}`]) {
      expect(() => splitKeyName(bad, 'key'), bad).toThrow(/algorithm/);
    }
  });

  it('accepts only unpadded base64 of 32 bytes as an ed25519 public key', () => {
    expect(isEd25519PublicKey(generateSigningKey().publicKey)).toBe(true);
    expect(isEd25519PublicKey('abc')).toBe(false);
    expect(isEd25519PublicKey(`${generateSigningKey().publicKey}=`)).toBe(false);
  });
});

describe('device keys', () => {
  it('accepts self-signed keys of the uploading device', () => {
    expect(() => checkDeviceKeys(deviceKeys(), ALICE, 'PHONE')).not.toThrow();
  });

  it('rejects another owner, another device, a foreign key name and a broken signature', () => {
    const keys = deviceKeys();
    expect(() => checkDeviceKeys(keys, '@bob:alpha.test', 'PHONE')).toThrow(/user_id/);
    expect(() => checkDeviceKeys(keys, ALICE, 'LAPTOP')).toThrow(/device_id/);
    const foreign = { ...keys, keys: { ...keys.keys, 'curve25519:OTHER': 'x' } };
    expect(() => checkDeviceKeys(foreign, ALICE, 'PHONE')).toThrow(/must end in :PHONE/);
    expect(() => checkDeviceKeys({ ...keys, algorithms: [] }, ALICE, 'PHONE')).toThrow(/signed/);
  });

  it('treats keys that differ only in signatures or unsigned as the same key', () => {
    const keys = deviceKeys();
    expect(sameKeyContent(keys, { ...keys, signatures: {}, unsigned: { a: 1 } })).toBe(true);
    expect(sameKeyContent(keys, { ...keys, algorithms: [] })).toBe(false);
  });
});

describe('cross-signing keys', () => {
  it('returns the public key of a well-formed key of the usage', () => {
    const { publicKey } = generateSigningKey();
    const key = {
      user_id: ALICE,
      usage: ['master'],
      keys: { [`ed25519:${publicKey}`]: publicKey },
    };
    expect(crossSigningPublicKey(key, ALICE, 'master')).toBe(publicKey);
    expect(() => crossSigningPublicKey(key, ALICE, 'self_signing')).toThrow(/usage/);
    expect(() => crossSigningPublicKey(key, '@bob:alpha.test', 'master')).toThrow(/for @bob/);
    expect(() =>
      crossSigningPublicKey({ ...key, keys: { 'ed25519:other': publicKey } }, ALICE, 'master'),
    ).toThrow(/public key/);
    expect(() => crossSigningPublicKey({ ...key, keys: {} }, ALICE, 'master')).toThrow(/one key/);
  });
});
