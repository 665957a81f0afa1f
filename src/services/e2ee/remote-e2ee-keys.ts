/**
 * The keys of other servers' users, asked of those servers (server-server API "End-to-End
 * Encryption"): `/keys/query` and `/keys/claim` send one `/user/keys/query` or `/user/keys/claim`
 * per server, all at once, each bounded by the client's `timeout`. A server that fails or does
 * not answer in time is listed in `failures`; the others' answers are checked
 * (`remote-key-checks.ts`) and kept. Nothing is cached: every query asks live, and an
 * `m.device_list_update` from a server only tells local clients to query again.
 */
import type { Logger } from 'pino';
import type { JsonObject, JsonValue } from '../../core/canonical-json.js';
import { parseUserId } from '../../core/identifiers.js';
import {
  FederationRequestError,
  type FederationClient,
} from '../federation/federation-contracts.js';
import {
  checkRemoteClaimAnswer,
  checkRemoteQueryAnswer,
  type CheckedRemoteKeys,
} from './remote-key-checks.js';

/** `timeout` of `/keys/query` and `/keys/claim` when the client gives none (spec: 10 s). */
export const DEFAULT_REMOTE_KEYS_TIMEOUT_MS = 10_000;
/** A client's `timeout` is capped at this. */
export const MAX_REMOTE_KEYS_TIMEOUT_MS = 60_000;

export interface RemoteKeysQueryResult extends CheckedRemoteKeys {
  failures: Record<string, JsonObject>;
}

export interface RemoteKeysClaimResult {
  failures: Record<string, JsonObject>;
  one_time_keys: Record<string, Record<string, Record<string, JsonValue>>>;
}

export class RemoteE2eeKeys {
  constructor(
    private readonly client: FederationClient,
    private readonly logger: Logger,
  ) {}

  /** `asked`: other servers' users → device IDs (`[]` for all). */
  async query(
    asked: Readonly<Record<string, readonly string[]>>,
    timeoutMs: number | undefined,
  ): Promise<RemoteKeysQueryResult> {
    const result: RemoteKeysQueryResult = {
      failures: {},
      device_keys: {},
      master_keys: {},
      self_signing_keys: {},
    };
    await this.#perServer(asked, timeoutMs, result.failures, async (server, part, timeout) => {
      const answer = await this.client.request<JsonValue>(server, {
        method: 'POST',
        path: '/_matrix/federation/v1/user/keys/query',
        body: { device_keys: part as JsonObject },
        timeoutMs: timeout,
      });
      const kept = checkRemoteQueryAnswer(server, part, answer);
      Object.assign(result.device_keys, kept.device_keys);
      Object.assign(result.master_keys, kept.master_keys);
      Object.assign(result.self_signing_keys, kept.self_signing_keys);
    });
    return result;
  }

  /** `asked`: other servers' users → device ID → algorithm. */
  async claim(
    asked: Readonly<Record<string, Readonly<Record<string, string>>>>,
    timeoutMs: number | undefined,
  ): Promise<RemoteKeysClaimResult> {
    const result: RemoteKeysClaimResult = { failures: {}, one_time_keys: {} };
    await this.#perServer(asked, timeoutMs, result.failures, async (server, part, timeout) => {
      const answer = await this.client.request<JsonValue>(server, {
        method: 'POST',
        path: '/_matrix/federation/v1/user/keys/claim',
        body: { one_time_keys: part as JsonObject },
        timeoutMs: timeout,
      });
      Object.assign(result.one_time_keys, checkRemoteClaimAnswer(server, part, answer));
    });
    return result;
  }

  /** Splits `asked` by the users' servers and runs `ask` for each, in parallel. */
  async #perServer<T>(
    asked: Readonly<Record<string, T>>,
    timeoutMs: number | undefined,
    failures: Record<string, JsonObject>,
    ask: (server: string, part: Record<string, T>, timeoutMs: number) => Promise<void>,
  ): Promise<void> {
    const byServer = new Map<string, Map<string, T>>();
    for (const [userId, value] of Object.entries(asked)) {
      const server = parseUserId(userId).serverName;
      const part = byServer.get(server) ?? new Map<string, T>();
      part.set(userId, value);
      byServer.set(server, part);
    }
    const timeout = Math.min(
      timeoutMs ?? DEFAULT_REMOTE_KEYS_TIMEOUT_MS,
      MAX_REMOTE_KEYS_TIMEOUT_MS,
    );
    await Promise.all(
      [...byServer].map(async ([server, part]) => {
        try {
          await ask(server, Object.fromEntries(part), timeout);
        } catch (error) {
          failures[server] = failureOf(error);
          this.logger.info({ destination: server, err: error }, 'remote keys request failed');
        }
      }),
    );
  }
}

/**
 * A server's entry in `failures`, as Synapse words it: the status it answered with, or 503 when
 * it could not be reached or did not answer in time.
 */
function failureOf(error: unknown): JsonObject {
  if (error instanceof FederationRequestError) {
    const failure: JsonObject = {
      status: error.status === 0 ? 503 : error.status,
      message: error.message,
    };
    if (error.errcode !== undefined) failure['errcode'] = error.errcode;
    return failure;
  }
  return { status: 503, message: error instanceof Error ? error.message : String(error) };
}
