import type { z } from 'zod';
import type { TenantContext } from '../services/tenant-context.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/**
 * Who may call an endpoint. `none`: anyone. Later issues add `user` (access token) and
 * `server` (X-Matrix signature); the HTTP layer checks the kind before the handler runs.
 */
export type AuthKind = 'none';

/** What a handler receives: validated path parameters, query and body. */
export interface EndpointRequest<Params, Query, Body> {
  readonly params: Params;
  readonly query: Query;
  readonly body: Body;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** A response other than `200` with a JSON body. */
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
> {
  readonly method: HttpMethod;
  readonly paths: readonly string[];
  readonly auth: AuthKind;
  readonly params?: P;
  readonly query?: Q;
  readonly body?: B;
  // Method syntax on purpose: a list of endpoints with different input types stays assignable.
  handler(ctx: TenantContext, req: EndpointRequest<Infer<P>, Infer<Q>, Infer<B>>): Promise<unknown>;
}

/** Declares an endpoint with its handler's input types inferred from the schemas. */
export function defineEndpoint<
  P extends Schema | undefined = undefined,
  Q extends Schema | undefined = undefined,
  B extends Schema | undefined = undefined,
>(endpoint: Endpoint<P, Q, B>): Endpoint<P, Q, B> {
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
