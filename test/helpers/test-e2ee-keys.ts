/**
 * End-to-end encryption keys as a client makes them, for tests that publish and check keys
 * through the HTTP API: ed25519 key pairs, a device's self-signed identity keys and signed
 * one-time keys, and cross-signing keys. Made with node:crypto and a canonical JSON written
 * here, independently of the server's own signing code.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { Json } from './account-server.js';

/** Canonical JSON of plain test objects: sorted keys, no whitespace. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const unpadded = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '');

/** An ed25519 key pair; `publicKey` in unpadded base64. */
export class Ed25519Key {
  readonly publicKey: string;
  readonly #privateKey: KeyObject;

  constructor() {
    const pair = generateKeyPairSync('ed25519');
    this.#privateKey = pair.privateKey;
    const x = pair.publicKey.export({ format: 'jwk' }).x as string;
    this.publicKey = unpadded(Buffer.from(x, 'base64url'));
  }

  /** `obj` with this key's signature added under `signatures[userId][keyId]`. */
  sign(obj: Json, userId: string, keyId: string): Json {
    const { signatures = {}, unsigned: _unsigned, ...content } = obj;
    const signature = unpadded(sign(null, Buffer.from(canonical(content)), this.#privateKey));
    return {
      ...obj,
      signatures: { ...signatures, [userId]: { ...signatures[userId], [keyId]: signature } },
    };
  }
}

/** A device of a user with its own ed25519 key. */
export class TestDeviceKeys {
  readonly signingKey = new Ed25519Key();
  readonly curveKey = unpadded(Buffer.from(`curve-${Math.random()}`.padEnd(32, 'x').slice(0, 32)));
  #nextKeyId = 0;

  constructor(
    readonly userId: string,
    readonly deviceId: string,
  ) {}

  /** The device's identity keys (plus `extra` fields), self-signed. */
  deviceKeys(extra: Json = {}): Json {
    const { userId, deviceId } = this;
    return this.signingKey.sign(
      {
        user_id: userId,
        device_id: deviceId,
        algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
        keys: {
          [`curve25519:${deviceId}`]: this.curveKey,
          [`ed25519:${deviceId}`]: this.signingKey.publicKey,
        },
        ...extra,
      },
      userId,
      `ed25519:${deviceId}`,
    );
  }

  /** `count` new signed keys, `{ "signed_curve25519:<id>": key }`. */
  oneTimeKeys(count: number, extra: Json = {}): Record<string, Json> {
    const keys: Record<string, Json> = {};
    for (let i = 0; i < count; i++) {
      this.#nextKeyId += 1;
      const id = `AAAA${String(this.#nextKeyId).padStart(4, '0')}`;
      keys[`signed_curve25519:${id}`] = this.signingKey.sign(
        { key: `otk-${this.deviceId}-${id}`, ...extra },
        this.userId,
        `ed25519:${this.deviceId}`,
      );
    }
    return keys;
  }
}

/** A user's three cross-signing keys and the upload body that publishes them. */
export class TestCrossSigningKeys {
  readonly master = new Ed25519Key();
  readonly selfSigning = new Ed25519Key();
  readonly userSigning = new Ed25519Key();

  constructor(readonly userId: string) {}

  key(usage: string, key: Ed25519Key, signedByMaster = usage !== 'master'): Json {
    const obj = {
      user_id: this.userId,
      usage: [usage],
      keys: { [`ed25519:${key.publicKey}`]: key.publicKey },
    };
    return signedByMaster
      ? this.master.sign(obj, this.userId, `ed25519:${this.master.publicKey}`)
      : obj;
  }

  body(): Json {
    return {
      master_key: this.key('master', this.master),
      self_signing_key: this.key('self_signing', this.selfSigning),
      user_signing_key: this.key('user_signing', this.userSigning),
    };
  }
}
