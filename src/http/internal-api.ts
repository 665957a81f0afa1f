import { timingSafeEqual } from 'node:crypto';
import Fastify, { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { MatrixError } from '../core/errors.js';
import { toMatrixError } from './error-mapping.js';

/**
 * Small JSON APIs between Marina's own processes (the shard's admin API, the controller's admin
 * and placement APIs), on loopback: not tenant traffic. Bearer-token protected unless a route
 * says otherwise; errors are Matrix errors like everywhere else.
 */

export interface InternalRequest {
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string | undefined>>;
  /** The parsed JSON body (undefined when there is none). */
  readonly body: unknown;
  /** Aborted when the client goes away (ends long-polls early). */
  readonly signal: AbortSignal;
}

export interface InternalResponse {
  readonly status?: number;
  /** Sent as JSON, or as text when it is a string and `contentType` says so. */
  readonly body: unknown;
  readonly contentType?: string;
}

export interface InternalRoute {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** fastify path syntax: `/_marina/shard/v1/tenants/:serverName`. */
  readonly path: string;
  /** Served without the token (e.g. Prometheus scraping `/metrics`). */
  readonly public?: boolean;
  handler(request: InternalRequest): Promise<InternalResponse>;
}

export interface InternalApiOptions {
  readonly logger: Logger;
  /** The bearer token every non-public route requires. */
  readonly token: string;
  readonly routes: readonly InternalRoute[];
  readonly maxBodyBytes?: number;
}

export interface InternalApi {
  /** Listens and returns the base URL (`http://host:port`). */
  listen(host: string, port: number): Promise<string>;
  readonly port: number;
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export function createInternalApi(options: InternalApiOptions): InternalApi {
  const app = Fastify({
    loggerInstance: options.logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    return503OnClosing: true,
    frameworkErrors: (error, _req, reply) => send(reply as FastifyReply, toMatrixError(error)),
  });
  const expected = Buffer.from(`Bearer ${options.token}`);

  app.setErrorHandler((error, request, reply) => {
    const matrixError = toMatrixError(error);
    if (matrixError.status >= 500) request.log.error({ err: error }, 'internal API error');
    return send(reply, matrixError);
  });
  app.setNotFoundHandler((_request, reply) =>
    send(reply, new MatrixError('M_UNRECOGNIZED', 'Unrecognized request', { status: 404 })),
  );

  for (const route of options.routes) {
    app.route({
      method: route.method,
      url: route.path,
      handler: async (request: FastifyRequest, reply: FastifyReply) => {
        if (route.public !== true && !authorized(request.headers.authorization, expected)) {
          return send(
            reply,
            new MatrixError('M_UNKNOWN_TOKEN', 'Missing or wrong admin token', { status: 401 }),
          );
        }
        const controller = new AbortController();
        request.raw.once('close', () => controller.abort());
        reply.raw.once('close', () => controller.abort());
        const response = await route.handler({
          params: (request.params ?? {}) as Record<string, string>,
          query: (request.query ?? {}) as Record<string, string | undefined>,
          body: request.body,
          signal: controller.signal,
        });
        reply.code(response.status ?? 200);
        if (typeof response.body === 'string' && response.contentType !== undefined) {
          return reply.type(response.contentType).send(response.body);
        }
        return reply.send(response.body ?? {});
      },
    });
  }

  return {
    async listen(host: string, port: number) {
      return app.listen({ host, port });
    },
    get port() {
      const address = app.server.address();
      return typeof address === 'object' && address !== null ? address.port : 0;
    },
    async close() {
      await app.close();
    },
  };
}

function authorized(header: string | undefined, expected: Buffer): boolean {
  if (header === undefined) return false;
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function send(reply: FastifyReply, error: MatrixError) {
  return reply.code(error.status).send(error.toJSON());
}
