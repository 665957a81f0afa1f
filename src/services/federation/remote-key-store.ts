/**
 * The verify keys of other servers ("Retrieving server keys"): asked of the server itself
 * (`GET /_matrix/key/v2/server`), else of the configured notaries (`POST /_matrix/key/v2/query`;
 * none by default), checked (self-signed, and notary-signed when through one) and cached in the
 * tenant's database. A current key is trusted until its document's `valid_until_ts` (at most
 * 7 days ahead, as the spec asks); an old key only for what was signed before its
 * `expired_ts`. Fetches of one server are shared, and a server that could not be reached is not
 * asked again for a minute.
 */

import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import type { JsonObject, JsonValue } from '../../core/canonical-json.js';
import { isValidServerName } from '../../core/identifiers.js';
import { verifyJsonSignature } from '../../protocol/signing.js';
import { selectRemoteKeys, upsertRemoteKeys } from '../../storage/federation/remote-server-keys.js';
import type { StoredRemoteKey } from '../../storage/federation/remote-server-keys.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import { LruCache } from '../room-graph/lru-cache.js';
import type { ServerKeys } from '../server-keys/server-keys.js';
import type { FederationClient, RemoteKeys } from './federation-contracts.js';

/** A notary this tenant trusts, with the keys its answers must be signed with. */
export interface TrustedKeyServer {
  readonly serverName: string;
  /** Key ID → unpadded base64 public key. */
  readonly verifyKeys: Readonly<Record<string, string>>;
}

/** The spec caps how far ahead a key document counts as valid (rooms v5+). */
export const MAX_KEY_VALIDITY_MS = 7 * 24 * 60 * 60 * 1000;
/** Other servers' keys kept in memory per tenant. */
const KEY_CACHE_SIZE = 512;
/** After a failed fetch, the server is not asked again before this long. */
const FAILED_FETCH_PAUSE_MS = 60_000;

export interface RemoteKeyStoreDeps {
  serverName: string;
  db: TenantDatabase;
  clock: Clock;
  logger: Logger;
  ownKeys: ServerKeys;
  client: FederationClient;
  notaries?: readonly TrustedKeyServer[];
}

export class RemoteKeyStore implements RemoteKeys {
  readonly #deps: RemoteKeyStoreDeps;
  readonly #inFlight = new Map<string, Promise<void>>();
  /** Keys read from the database, so that every signed request does not read them again. */
  readonly #keys = new LruCache<string, StoredRemoteKey>(KEY_CACHE_SIZE);
  readonly #failedAt = new Map<string, number>();

  constructor(deps: RemoteKeyStoreDeps) {
    this.#deps = deps;
  }

  async verifyKey(serverName: string, keyId: string, atTs?: number): Promise<string | undefined> {
    if (serverName === this.#deps.serverName) return this.#ownKey(keyId, atTs);
    const cached = await this.#cached(serverName, keyId);
    if (cached !== undefined && usableAt(cached, atTs)) return cached.publicKey;
    // An old key never becomes valid again; a current one may have been renewed.
    if (cached?.expiredTs !== null && cached !== undefined) return undefined;
    await this.#refresh(serverName);
    const fresh = await this.#cached(serverName, keyId);
    return fresh !== undefined && usableAt(fresh, atTs) ? fresh.publicKey : undefined;
  }

  /**
   * The key documents cached for `serverName` whose keys are valid at least until
   * `minimumValidUntilTs` (fetched again if not), for the notary endpoints: the server's own
   * signed documents, each served once.
   */
  async keyDocuments(serverName: string, minimumValidUntilTs = 0): Promise<JsonObject[]> {
    if (serverName === this.#deps.serverName) return [this.#deps.ownKeys.publishedKeys()];
    if (!isValidServerName(serverName)) return [];
    let keys = await this.#deps.db.read((db) => selectRemoteKeys(db, serverName));
    const current = keys.filter((key) => key.expiredTs === null);
    if (current.length === 0 || current.every((key) => key.validUntilTs < minimumValidUntilTs)) {
      await this.#refresh(serverName);
      keys = await this.#deps.db.read((db) => selectRemoteKeys(db, serverName));
    }
    return [...new Set(keys.map((key) => key.keyResponse))].map(
      (text) => JSON.parse(text) as JsonObject,
    );
  }

  #ownKey(keyId: string, atTs: number | undefined): string | undefined {
    const own = this.#deps.ownKeys.publishedKeys();
    const current = (own.verify_keys as Record<string, { key: string }>)[keyId];
    if (current !== undefined) return current.key;
    const old = (own.old_verify_keys as Record<string, { key: string; expired_ts: number }>)[keyId];
    if (old === undefined || (atTs !== undefined && atTs > old.expired_ts)) return undefined;
    return old.key;
  }

  async #cached(serverName: string, keyId: string): Promise<StoredRemoteKey | undefined> {
    const cacheKey = `${serverName} ${keyId}`;
    const known = this.#keys.get(cacheKey);
    if (known !== undefined) return known;
    const [key] = await this.#deps.db.read((db) => selectRemoteKeys(db, serverName, [keyId]));
    if (key !== undefined) this.#keys.set(cacheKey, key);
    return key;
  }

  /** Fetches `serverName`'s keys once at a time; failures pause further attempts for a minute. */
  async #refresh(serverName: string): Promise<void> {
    const failedAt = this.#failedAt.get(serverName);
    if (failedAt !== undefined && this.#deps.clock.now() - failedAt < FAILED_FETCH_PAUSE_MS) return;
    let pending = this.#inFlight.get(serverName);
    if (pending === undefined) {
      pending = this.#fetch(serverName).finally(() => this.#inFlight.delete(serverName));
      this.#inFlight.set(serverName, pending);
    }
    await pending;
  }

  async #fetch(serverName: string): Promise<void> {
    const documents = await this.#fetchDirect(serverName);
    const found = documents ?? (await this.#fetchThroughNotaries(serverName));
    if (found === undefined || found.length === 0) {
      this.#failedAt.set(serverName, this.#deps.clock.now());
      return;
    }
    this.#failedAt.delete(serverName);
    const now = this.#deps.clock.now();
    const keys = found.flatMap((document) => keysOf(document, now));
    await this.#deps.db.transact((trx) => upsertRemoteKeys(trx, keys));
    for (const key of keys) this.#keys.set(`${key.serverName} ${key.keyId}`, key);
  }

  async #fetchDirect(serverName: string): Promise<JsonObject[] | undefined> {
    try {
      const document = await this.#deps.client.request(serverName, {
        method: 'GET',
        path: '/_matrix/key/v2/server',
        signed: false,
        timeoutMs: 10_000,
      });
      const problem = selfSignedProblem(document, serverName);
      if (problem !== undefined) {
        this.#deps.logger.warn({ destination: serverName, problem }, 'refused server keys');
        return undefined;
      }
      return [document];
    } catch (error) {
      this.#deps.logger.info(
        { destination: serverName, err: (error as Error).message },
        'cannot fetch server keys directly',
      );
      return undefined;
    }
  }

  async #fetchThroughNotaries(serverName: string): Promise<JsonObject[] | undefined> {
    for (const notary of this.#deps.notaries ?? []) {
      try {
        const answer = await this.#deps.client.request<{ server_keys?: JsonValue }>(
          notary.serverName,
          {
            method: 'POST',
            path: '/_matrix/key/v2/query',
            body: { server_keys: { [serverName]: {} } },
            signed: false,
            timeoutMs: 10_000,
          },
        );
        const documents = (Array.isArray(answer.server_keys) ? answer.server_keys : []).filter(
          (document): document is JsonObject =>
            isObject(document) &&
            selfSignedProblem(document, serverName) === undefined &&
            signedByNotary(document, notary),
        );
        if (documents.length > 0) return documents;
      } catch (error) {
        this.#deps.logger.info(
          { notary: notary.serverName, destination: serverName, err: (error as Error).message },
          'notary could not give server keys',
        );
      }
    }
    return undefined;
  }
}

function usableAt(key: StoredRemoteKey, atTs: number | undefined): boolean {
  if (key.expiredTs !== null) return atTs === undefined || atTs < key.expiredTs;
  return atTs === undefined || atTs <= key.validUntilTs;
}

/** Why a key document is not a valid answer for `serverName`, or undefined if it is. */
export function selfSignedProblem(document: JsonObject, serverName: string): string | undefined {
  if (document.server_name !== serverName) return 'server_name does not match';
  if (typeof document.valid_until_ts !== 'number') return 'valid_until_ts is missing';
  const verifyKeys = document.verify_keys;
  if (!isObject(verifyKeys) || Object.keys(verifyKeys).length === 0) return 'no verify_keys';
  for (const [keyId, value] of Object.entries(verifyKeys)) {
    if (!isObject(value) || typeof value.key !== 'string')
      return `verify key ${keyId} is malformed`;
    if (!verifyJsonSignature(document, serverName, keyId, value.key)) {
      return `not signed with its key ${keyId}`;
    }
  }
  return undefined;
}

function signedByNotary(document: JsonObject, notary: TrustedKeyServer): boolean {
  return Object.entries(notary.verifyKeys).some(([keyId, key]) =>
    verifyJsonSignature(document, notary.serverName, keyId, key),
  );
}

function keysOf(document: JsonObject, now: number): StoredRemoteKey[] {
  const serverName = document.server_name as string;
  const validUntilTs = Math.min(document.valid_until_ts as number, now + MAX_KEY_VALIDITY_MS);
  const keyResponse = JSON.stringify(document);
  const keys: StoredRemoteKey[] = [];
  for (const [keyId, value] of Object.entries(document.verify_keys as JsonObject)) {
    keys.push({
      serverName,
      keyId,
      publicKey: (value as { key: string }).key,
      validUntilTs,
      expiredTs: null,
      fetchedTs: now,
      keyResponse,
    });
  }
  const old = document.old_verify_keys;
  if (isObject(old)) {
    for (const [keyId, value] of Object.entries(old)) {
      if (!isObject(value) || typeof value.key !== 'string') continue;
      if (typeof value.expired_ts !== 'number') continue;
      keys.push({
        serverName,
        keyId,
        publicKey: value.key,
        validUntilTs: value.expired_ts,
        expiredTs: value.expired_ts,
        fetchedTs: now,
        keyResponse,
      });
    }
  }
  return keys;
}

function isObject(value: JsonValue | undefined): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
