/**
 * `POST /keys/claim` (client-server API "One-time and fallback keys"): one key per requested
 * device and algorithm, the oldest one-time key, or the device's fallback key when it has none
 * left. A one-time key is deleted by the transaction that hands it out, so no two claims ever get
 * the same one; a fallback key stays, marked used, until the device replaces it. Other servers'
 * users' keys are claimed from their servers (`RemoteE2eeKeys`), and other servers claim this
 * server's users' keys through `claimForServer` (`/user/keys/claim`).
 */
import type { JsonObject, JsonValue } from '../../core/canonical-json.js';
import { tooLarge } from '../../core/errors.js';
import { takeFallbackKey, takeOneTimeKey } from '../../storage/e2ee/one-time-keys.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import type { RemoteE2eeKeys } from './remote-e2ee-keys.js';
import { pick, requireLocalUsers, splitUsersByServer } from './user-servers.js';

/** At most this many devices per claim. */
export const MAX_CLAIMED_DEVICES = 5000;

export interface KeyClaimResponse {
  failures: Record<string, JsonObject>;
  /** User ID → device ID → `<algorithm>:<key ID>` → key. */
  one_time_keys: Record<string, Record<string, Record<string, JsonValue>>>;
}

export class KeyClaim {
  constructor(
    private readonly db: TenantDatabase,
    private readonly serverName: string,
    private readonly remote: RemoteE2eeKeys,
  ) {}

  /**
   * `request`: user ID → device ID → algorithm. Other servers' users are claimed from their
   * servers, at most `timeoutMs` (default 10 s); a server that fails is listed in `failures`.
   */
  async claim(
    request: Readonly<Record<string, Readonly<Record<string, string>>>>,
    timeoutMs?: number,
  ): Promise<KeyClaimResponse> {
    checkDeviceCount(request);
    const { local, remote } = splitUsersByServer(Object.keys(request), this.serverName);
    const [own, others] = await Promise.all([
      this.#claimLocal(pick(request, local)),
      remote.length === 0 ? undefined : this.remote.claim(pick(request, remote), timeoutMs),
    ]);
    return {
      failures: others?.failures ?? {},
      one_time_keys: { ...own, ...others?.one_time_keys },
    };
  }

  /** `/user/keys/claim` from another server: this server's users only (else 400 M_INVALID_PARAM). */
  async claimForServer(
    request: Readonly<Record<string, Readonly<Record<string, string>>>>,
  ): Promise<Pick<KeyClaimResponse, 'one_time_keys'>> {
    checkDeviceCount(request);
    requireLocalUsers(Object.keys(request), this.serverName);
    return { one_time_keys: await this.#claimLocal(request) };
  }

  async #claimLocal(
    request: Readonly<Record<string, Readonly<Record<string, string>>>>,
  ): Promise<KeyClaimResponse['one_time_keys']> {
    const oneTimeKeys: KeyClaimResponse['one_time_keys'] = {};
    const local = Object.keys(request);
    if (local.length === 0) return oneTimeKeys;
    await this.db.transact(async (trx) => {
      for (const userId of local) {
        const byDevice = new Map<string, Record<string, JsonValue>>();
        for (const [deviceId, algorithm] of Object.entries(request[userId] ?? {})) {
          const device = { userId, deviceId };
          const key =
            (await takeOneTimeKey(trx, device, algorithm)) ??
            (await takeFallbackKey(trx, device, algorithm));
          if (key === undefined) continue;
          byDevice.set(deviceId, {
            [`${key.algorithm}:${key.keyId}`]: JSON.parse(key.keyJson) as JsonValue,
          });
        }
        if (byDevice.size > 0) oneTimeKeys[userId] = Object.fromEntries(byDevice);
      }
    });
    return oneTimeKeys;
  }
}

function checkDeviceCount(request: Readonly<Record<string, Readonly<Record<string, string>>>>) {
  const deviceCount = Object.values(request).reduce((n, d) => n + Object.keys(d).length, 0);
  if (deviceCount > MAX_CLAIMED_DEVICES) {
    throw tooLarge(`At most ${MAX_CLAIMED_DEVICES} devices per claim`);
  }
}
