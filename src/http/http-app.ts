import { Readable } from 'node:stream';
import Fastify, { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import FindMyWay from 'find-my-way';
import type { Logger } from 'pino';
import { unrecognized, type MatrixError } from '../core/errors.js';
import { EndpointResponse, type Endpoint, type HttpMethod } from '../api/endpoint.js';
import type { TenantContext } from '../services/tenant-context.js';
import { authenticate } from './authenticate.js';
import { CORS_HEADERS } from './cors.js';
import { toMatrixError } from './error-mapping.js';
import { hostnameOf } from './host.js';
import { parseJsonBody, validateInput } from './request-input.js';

/** What a resolver learns of the request it finds a tenant for. */
export interface TenantRequest {
  readonly method: string;
  /** Path and query string, as received. */
  readonly url: string;
  /** Aborted when the client goes away (a request waiting for its turn can give up). */
  readonly signal: AbortSignal;
  /**
   * Says which tenant the request is for as soon as the resolver knows it (before admitting
   * it), so that its log line and metrics name the tenant even when it is then refused.
   */
  identify(serverName: string): void;
}

/**
 * A tenant admitted to serve one request, for resolvers that also manage admission (the shard's
 * in-flight caps and hibernation): `release` runs once the endpoint is done with the request,
 * whatever its outcome; aborting `signal` ends the request's waits early, as a client leaving
 * does (a `/sync` long-poll answers at once).
 */
export interface TenantAdmission {
  readonly context: TenantContext;
  readonly signal?: AbortSignal;
  release(): void;
}

/** Finds the tenant a request is for, from its host name; throws a MatrixError when none is served there. */
export type TenantResolver = (
  hostname: string | undefined,
  request: TenantRequest,
) => Promise<TenantContext | TenantAdmission>;

/** One answered request, for metrics. `serverName` is set when a tenant was resolved. */
export interface ResponseRecord {
  readonly hostname: string | undefined;
  readonly serverName: string | undefined;
  readonly method: string;
  readonly status: number;
  readonly durationSeconds: number;
}

export interface HttpAppOptions {
  logger: Logger;
  endpoints: readonly Endpoint[];
  resolveTenant: TenantResolver;
  /** Largest request body accepted, in bytes; larger ones get 413 M_TOO_LARGE. */
  maxBodyBytes?: number;
  /** Called for every response, after it is sent (the shard's metrics). */
  onResponse?: (record: ResponseRecord) => void;
}

export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;

/** Matrix path parameters (IDs up to 255 bytes, percent-encoded) exceed fastify's default of 100. */
const MAX_PARAM_LENGTH = 2048;

/** While closing, how often connections that became idle are closed. */
const CLOSE_SWEEP_MS = 50;

const METHODS: readonly HttpMethod[] = ['GET', 'POST', 'PUT', 'DELETE'];

declare module 'fastify' {
  interface FastifyRequest {
    /** The tenant serving this request, once resolved. */
    tenant: TenantContext | null;
    /** The server_name of the tenant the request is for, once known (refused requests too). */
    serverName: string | null;
  }
}

/**
 * Builds the HTTP application that serves tenants' endpoints. Routes are registered once for
 * the process; each request finds its tenant by host name, so one app serves many tenants.
 */
export function createHttpApp(options: HttpAppOptions) {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const app = Fastify({
    loggerInstance: options.logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: maxBodyBytes,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    return503OnClosing: true,
    // Errors fastify meets before routing (a bad percent-encoding) are Matrix errors too.
    frameworkErrors: (error, _req, reply) =>
      sendMatrixError(reply as FastifyReply, toMatrixError(error)),
  });
  app.decorateRequest('tenant', null);
  app.decorateRequest('serverName', null);

  // close() waits for keep-alive connections whose response ends after it began until their
  // keep-alive timeout (72 s; fastify#7044): close each one as soon as it is idle.
  app.addHook('preClose', async () => {
    const sweep = setInterval(() => app.server.closeIdleConnections(), CLOSE_SWEEP_MS);
    sweep.unref();
    app.server.once('close', () => clearInterval(sweep));
  });

  // Bodies arrive as raw bytes whatever their Content-Type (clients are not consistent about
  // it); each endpoint parses what it declares.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    '*',
    { parseAs: 'buffer', bodyLimit: maxBodyBytes },
    (_req, body, done) => done(null, body),
  );

  app.addHook('onRequest', async (_req, reply) => {
    reply.headers(CORS_HEADERS);
  });
  app.addHook('onResponse', async (req, reply) => {
    logRequest(options.logger, req, reply);
    options.onResponse?.({
      hostname: hostnameOf(req.headers.host),
      serverName: req.tenant?.serverName ?? req.serverName ?? undefined,
      method: req.method,
      status: reply.statusCode,
      durationSeconds: reply.elapsedTime / 1000,
    });
  });

  app.setErrorHandler(async (error, req, reply) => {
    const matrixError = toMatrixError(error);
    if (matrixError.status >= 500) {
      (req.tenant?.logger ?? options.logger).error(
        { err: error, path: pathOf(req.url), ...requestPlace(req) },
        'request failed',
      );
    }
    return sendMatrixError(reply, matrixError);
  });

  // A path that exists for other methods is a 405; anything else is a 404 (both M_UNRECOGNIZED).
  const knownPaths = FindMyWay({ maxParamLength: MAX_PARAM_LENGTH });
  for (const endpoint of options.endpoints) {
    for (const path of endpoint.paths) knownPaths.on(endpoint.method, path, () => undefined);
  }
  app.setNotFoundHandler(async (req, reply) => {
    const path = pathOf(req.url);
    const allowed = METHODS.filter((method) => knownPaths.find(method, path) !== null);
    if (allowed.length > 0) {
      return reply
        .code(405)
        .header('Allow', [...allowed, 'OPTIONS'].join(', '))
        .send(unrecognized(`${req.method} is not supported for this path`, 405).toJSON());
    }
    return reply.code(404).send(unrecognized('Unrecognized request').toJSON());
  });

  // Preflight for every path: the spec says OPTIONS must not run any endpoint logic.
  app.options('*', async (_req, reply) => reply.code(204).send());

  app.get('/health', async (_req, reply) => reply.type('text/plain').send('OK'));

  const routesOf = (endpoints: readonly Endpoint[]) =>
    endpoints.flatMap((endpoint) =>
      endpoint.paths.map((path) => ({
        method: endpoint.method,
        url: path,
        handler: (req: FastifyRequest, reply: FastifyReply) =>
          serveEndpoint(endpoint, options.resolveTenant, req, reply),
      })),
    );
  for (const route of routesOf(options.endpoints.filter((e) => e.streamBody !== true))) {
    app.route(route);
  }
  // Endpoints that stream their body (media uploads) get it unread, in a scope of their own
  // whose parser hands the request stream through: no buffering, no body limit here (they
  // enforce their own while streaming).
  const streaming = options.endpoints.filter((e) => e.streamBody === true);
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    for (const route of routesOf(streaming)) scope.route(route);
  });
  return app;
}

async function serveEndpoint(
  endpoint: Endpoint,
  resolveTenant: TenantResolver,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  // The response's 'close' before it finished means the client went away ('close' on the
  // request fires as soon as its body is read).
  const disconnected = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) disconnected.abort();
  });
  const resolved = await resolveTenant(hostnameOf(req.headers.host), {
    method: req.method,
    url: req.url,
    signal: disconnected.signal,
    identify: (serverName) => {
      req.serverName = serverName;
    },
  });
  if (!('release' in resolved))
    return serveTenant(endpoint, resolved, disconnected.signal, req, reply);
  try {
    const signal = resolved.signal
      ? AbortSignal.any([disconnected.signal, resolved.signal])
      : disconnected.signal;
    return await serveTenant(endpoint, resolved.context, signal, req, reply);
  } finally {
    resolved.release();
  }
}

async function serveTenant(
  endpoint: Endpoint,
  tenant: TenantContext,
  signal: AbortSignal,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  req.tenant = tenant;
  // Who is calling is settled before the input is even looked at.
  const auth = await authenticate(endpoint, tenant, req);
  // A request without a body has none to stream: the handler gets an empty stream.
  const bodyStream =
    endpoint.streamBody === true
      ? ((req.body as Readable | undefined) ?? Readable.from([]))
      : undefined;
  try {
    const input = {
      params: endpoint.params ? validateInput(endpoint.params, req.params, 'path') : undefined,
      query: endpoint.query ? validateInput(endpoint.query, req.query, 'query') : undefined,
      body: endpoint.body
        ? validateInput(endpoint.body, parseJsonBody(req.body as Buffer | undefined), 'body')
        : undefined,
      headers: req.headers,
      auth,
      clientIp: req.ip,
      signal,
      bodyStream,
    };
    const result = await endpoint.handler(tenant, input);
    if (result instanceof EndpointResponse) {
      return reply.code(result.status).headers(result.headers).send(result.body);
    }
    return reply.code(200).send(result);
  } finally {
    // A streamed body the handler did not read to the end (refused, too large) is drained and
    // dropped, so the client gets its answer and the connection stays usable.
    if (bodyStream !== undefined && !bodyStream.readableEnded) bodyStream.resume();
  }
}

function sendMatrixError(reply: FastifyReply, error: MatrixError): FastifyReply {
  return reply
    .code(error.status)
    .headers({ ...CORS_HEADERS, ...error.headers })
    .send(error.toJSON());
}

function logRequest(logger: Logger, req: FastifyRequest, reply: FastifyReply): void {
  // Only the path is logged: query strings may carry access tokens.
  (req.tenant?.logger ?? logger).info(
    {
      method: req.method,
      path: pathOf(req.url),
      ...requestPlace(req),
      status: reply.statusCode,
      duration_ms: Math.round(reply.elapsedTime * 10) / 10,
    },
    'request',
  );
}

/**
 * Where a request was addressed: its host, and the tenant's server_name once known but not
 * serving it (refused: queue full, failed tenant…); a serving tenant's logger carries its own.
 */
function requestPlace(req: FastifyRequest): { host?: string; server_name?: string } {
  const host = hostnameOf(req.headers.host);
  const serverName = req.tenant === null ? req.serverName : null;
  return {
    ...(host !== undefined ? { host } : {}),
    ...(serverName !== null ? { server_name: serverName } : {}),
  };
}

function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

export type HttpApp = ReturnType<typeof createHttpApp>;
