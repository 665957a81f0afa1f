import type { Clock } from '../../core/clock.js';
import type { JsonObject } from '../../core/canonical-json.js';
import type { SigningKey } from '../../protocol/signing-key.js';
import { signJson } from '../../protocol/signing.js';

/** A key the server no longer signs with, still published so that old signatures verify. */
export interface OldVerifyKey {
  keyId: string;
  publicKey: string;
  expiredTs: number;
}

/** How long other servers may cache our published keys (Synapse's default refresh interval). */
export const DEFAULT_KEY_VALIDITY_MS = 24 * 60 * 60 * 1000;

/** The tenant's own signing keys and the signed key document it publishes. */
export class ServerKeys {
  readonly signingKey: SigningKey;

  constructor(
    private readonly serverName: string,
    signingKey: SigningKey,
    private readonly oldVerifyKeys: readonly OldVerifyKey[],
    private readonly clock: Clock,
    private readonly validityMs = DEFAULT_KEY_VALIDITY_MS,
  ) {
    this.signingKey = signingKey;
  }

  /** Signs a JSON object as this server (adds to `signatures`, never mutates the input). */
  sign<T extends JsonObject>(object: T): T {
    return signJson(object, this.serverName, this.signingKey) as T;
  }

  /** The body of `GET /_matrix/key/v2/server`, signed with the current key. */
  publishedKeys(): JsonObject {
    const oldVerifyKeys: JsonObject = {};
    for (const old of this.oldVerifyKeys) {
      oldVerifyKeys[old.keyId] = { key: old.publicKey, expired_ts: old.expiredTs };
    }
    return this.sign({
      server_name: this.serverName,
      valid_until_ts: this.clock.now() + this.validityMs,
      verify_keys: { [this.signingKey.keyId]: { key: this.signingKey.publicKey } },
      old_verify_keys: oldVerifyKeys,
    });
  }
}
