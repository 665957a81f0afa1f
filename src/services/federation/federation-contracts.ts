/**
 * The seams between the parts of federation, so that each part is written and tested on its
 * own: how a tenant reaches other servers (`FederationClient`), how it trusts them
 * (`RemoteKeys`, `ServerAuth`), how other deployments' tenants are found (`FederationTransport`,
 * given by the process hosting the tenant), and what outbound and inbound work looks like.
 */

import type { JsonObject, JsonValue } from '../../core/canonical-json.js';

/** Who signed an inbound federation request (after its X-Matrix signature verified). */
export interface ServerAuth {
  /** The origin server's name. */
  readonly origin: string;
}

/** One request to another server's federation or key API. */
export interface FederationRequest {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** The path with its path parameters already percent-encoded, e.g. `/_matrix/federation/v1/version`. */
  readonly path: string;
  /** Query parameters (repeated values as arrays). */
  readonly query?: Readonly<Record<string, string | readonly string[]>>;
  /** The JSON body (PUT, POST). */
  readonly body?: JsonObject;
  /** Whether to sign it with X-Matrix (default true; key API requests are not signed). */
  readonly signed?: boolean;
  /** Give up after this many milliseconds (default 30 s). */
  readonly timeoutMs?: number;
  /** Aborts the request. */
  readonly signal?: AbortSignal;
}

/**
 * A request to another server failed: it answered with a non-2xx status (`status`, and the
 * Matrix `errcode` if its body had one), or it could not be reached (`status` 0).
 */
export class FederationRequestError extends Error {
  constructor(
    readonly destination: string,
    readonly status: number,
    readonly errcode: string | undefined,
    message: string,
    readonly body?: JsonValue,
    /** The destination's `Retry-After`, in milliseconds, if it sent one (e.g. a shard restarting). */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'FederationRequestError';
  }
}

/** A tenant's way to call other homeservers (signed as the tenant). */
export interface FederationClient {
  /** Sends the request and returns the parsed JSON body of a 2xx answer. */
  request<T = JsonObject>(destination: string, request: FederationRequest): Promise<T>;
}

/** Where a destination's federation API is reached: a base URL (`https://host:port`), and the Host to send. */
export interface ResolvedDestination {
  readonly baseUrl: string;
  /** The `Host` header to send (the server name, or the delegated name). */
  readonly host: string;
}

/**
 * How the process hosting tenants reaches the other tenants of its deployment: through the
 * router (no DNS, no TLS). Given by the shard; absent for a standalone homeserver.
 */
export interface FederationTransport {
  /**
   * The base URL to reach `destination` at if it is a tenant of this deployment, undefined if
   * it is not (then the Internet's server discovery applies).
   */
  deploymentUrlOf(destination: string): Promise<string | undefined>;
  /** `destination` is not a tenant here (the router answered `X-Marina-Unknown-Host`). */
  notInDeployment(destination: string): void;
}

/** The verify keys of other servers, fetched and cached (see `RemoteKeyStore`). */
export interface RemoteKeys {
  /**
   * The public key `keyId` of `serverName`, valid at `atTs` (ms since the epoch) if given: for
   * a current key, known valid until at least then (fetched again if the cached copy is older);
   * for an old key, expired after `atTs`. Undefined when the key cannot be had.
   */
  verifyKey(serverName: string, keyId: string, atTs?: number): Promise<string | undefined>;
}
