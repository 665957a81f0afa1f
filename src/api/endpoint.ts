import type { Readable } from 'node:stream';
import type { z } from 'zod';
import type { TenantContext } from '../services/tenant-context.js';
import type { ServerAuth } from '../services/federation/federation-contracts.js';
import type { RequestAuth } from '../services/tokens/access-tokens.js';

export type { RequestAuth, ServerAuth };

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/**
 * Who may call an endpoint; the HTTP layer checks it before the handler runs.
 * - `none`: anyone; an access token, if sent, is ignored.
 * - `user`: an access token is required (401 M_MISSING_TOKEN / M_UNKNOWN_TOKEN otherwise).
 * - `optional-user`: a token may be sent; if it is, it must be valid.
 * - `server`: another homeserver, by its X-Matrix signature (federation and its reads);
 *   401 M_UNAUTHORIZED when unsigned, badly signed or addressed to another server.
 */
export type AuthKind = 'none' | 'user' | 'optional-user' | 'server';

/** What `req.auth` holds for each auth kind. */
export type AuthOf<A extends AuthKind> = A extends 'user'
  ? RequestAuth
  : A extends 'optional-user'
    ? RequestAuth | null
    : A extends 'server'
      ? ServerAuth
      : null;

/** What a handler receives: validated path parameters, query and body, and who is calling. */
export interface EndpointRequest<Params, Query, Body, Auth = RequestAuth | ServerAuth | null> {
  readonly params: Params;
  readonly query: Query;
  readonly body: Body;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The caller, from the access token (see `AuthKind`). */
  readonly auth: Auth;
  /** The client's IP address as this process sees it. */
  readonly clientIp: string;
  /** Aborts when the client closes the connection before the response is sent (long-polls). */
  readonly signal?: AbortSignal;
  /** The request body as it arrives, for endpoints with `streamBody` (media uploads). */
  readonly bodyStream?: Readable;
}

/**
 * A response other than `200` with a JSON body. A `Readable` body is streamed as is (media
 * downloads: set `Content-Type` and `Content-Length` in `headers`).
 */
export class EndpointResponse {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}

type Schema = z.ZodType;
type Infer<S> = S extends Schema ? z.output<S> : undefined;

/**
 * One endpoint, declared once: method, paths (the current one first, then older aliases; path
 * parameters as `:name`), auth kind, input schemas and a short handler. Handlers return the JSON
 * body for a 200, or an `EndpointResponse`, or throw a `MatrixError`.
 */
export interface Endpoint<
  P extends Schema | undefined = Schema | undefined,
  Q extends Schema | undefined = Schema | undefined,
  B extends Schema | undefined = Schema | undefined,
  A extends AuthKind = AuthKind,
> {
  readonly method: HttpMethod;
  readonly paths: readonly string[];
  readonly auth: A;
  /**
   * Whether guest accounts may call it (spec: "Guest Access" lists the endpoints they may use).
   * Otherwise a guest's token gets 403 M_GUEST_ACCESS_FORBIDDEN. Default false.
   */
  readonly allowGuests?: boolean;
  readonly params?: P;
  readonly query?: Q;
  readonly body?: B;
  /**
   * The body is not read and parsed: the handler gets it as a stream (`req.bodyStream`), with
   * no size limit of the HTTP layer (media uploads, which enforce their own). No `body` schema.
   */
  readonly streamBody?: boolean;
  // Method syntax on purpose: a list of endpoints with different input types stays assignable.
  handler(
    ctx: TenantContext,
    req: EndpointRequest<Infer<P>, Infer<Q>, Infer<B>, AuthOf<A>>,
  ): Promise<unknown>;
}

/** Declares an endpoint with its handler's input and auth types inferred from the definition. */
export function defineEndpoint<
  P extends Schema | undefined = undefined,
  Q extends Schema | undefined = undefined,
  B extends Schema | undefined = undefined,
  A extends AuthKind = 'none',
>(endpoint: Endpoint<P, Q, B, A>): Endpoint<P, Q, B, A> {
  return endpoint;
}

/** Builds a non-200 response. */
export function respond(
  status: number,
  body: unknown,
  headers?: Record<string, string>,
): EndpointResponse {
  return new EndpointResponse(status, body, headers);
}
