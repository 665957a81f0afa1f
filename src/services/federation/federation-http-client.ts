/**
 * The tenant's `FederationClient`: signs each request as the tenant (X-Matrix) and sends it
 * where the destination is: another tenant of this deployment through the router (the process's
 * `FederationTransport`), a destination listed in `federation_plain_http` over plain HTTP, or
 * anywhere else by the Internet's server discovery over TLS. The request is the same signed
 * request whichever way it goes.
 */

import { request as httpRequest } from 'node:http';
import type { Logger } from 'pino';
import type { JsonObject, JsonValue } from '../../core/canonical-json.js';
import type { SigningKey } from '../../protocol/signing-key.js';
import { xMatrixHeader } from '../../protocol/x-matrix.js';
import { FederationRequestError } from './federation-contracts.js';
import type {
  FederationClient,
  FederationRequest,
  FederationTransport,
} from './federation-contracts.js';

/** The answer of a router for a Host that is not one of its tenants. */
export const UNKNOWN_HOST_HEADER = 'x-marina-unknown-host';
const DEFAULT_TIMEOUT_MS = 30_000;
/** Larger answers are refused (a state of 100,000 events is well under this). */
const MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

/** One HTTP exchange with a destination, as the transport layer performs it. */
export interface FederationExchange {
  readonly url: string;
  readonly method: string;
  readonly host: string;
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
  readonly timeoutMs: number;
  readonly signal: AbortSignal | undefined;
  /** Larger answers fail (status 0, errcode `M_TOO_LARGE`). */
  readonly maxBytes: number;
}

export interface FederationAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body's bytes. */
  readonly bytes: Buffer;
}

/** A binary answer (media over federation): a 2xx status, its headers and its body's bytes. */
export interface FederationBytesAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

/** How destinations outside the deployment and the plain-HTTP list are reached (discovery + TLS). */
export interface InternetFederation {
  send(
    destination: string,
    exchange: Omit<FederationExchange, 'url' | 'host'> & { path: string },
  ): Promise<FederationAnswer>;
}

export interface FederationHttpClientDeps {
  serverName: string;
  signingKey: SigningKey;
  logger: Logger;
  transport?: FederationTransport;
  /** Server name → `host:port` reached over plain HTTP (tests, private deployments). */
  plainHttp?: Readonly<Record<string, string>>;
  internet?: InternetFederation;
}

type Exchange = Omit<FederationExchange, 'url' | 'host'>;

export class FederationHttpClient implements FederationClient {
  readonly #deps: FederationHttpClientDeps;

  constructor(deps: FederationHttpClientDeps) {
    this.#deps = deps;
  }

  async request<T = JsonObject>(destination: string, request: FederationRequest): Promise<T> {
    const { path, exchange } = this.#exchange(destination, request, MAX_RESPONSE_BYTES);
    const answer = await this.#send(destination, path, exchange);
    return parseAnswer<T>(destination, answer);
  }

  /**
   * Like `request`, for binary answers (media over federation, which answers `multipart/mixed`):
   * the answer's bytes, at most `maxBytes` of them, unparsed. Non-2xx answers throw as `request`
   * does.
   */
  async requestBytes(
    destination: string,
    request: FederationRequest,
    maxBytes: number,
  ): Promise<FederationBytesAnswer> {
    const { path, exchange } = this.#exchange(destination, request, maxBytes);
    const answer = await this.#send(destination, path, exchange);
    if (answer.status < 200 || answer.status >= 300) return parseAnswer(destination, answer);
    return { status: answer.status, headers: answer.headers, body: answer.bytes };
  }

  /** The request as sent: its target (path and query) and the signed exchange. */
  #exchange(
    destination: string,
    request: FederationRequest,
    maxBytes: number,
  ): { path: string; exchange: Exchange } {
    const path = request.path + queryString(request.query);
    const body = request.body === undefined ? undefined : JSON.stringify(request.body);
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (request.signed !== false) {
      headers.authorization = xMatrixHeader(
        {
          method: request.method,
          uri: path,
          origin: this.#deps.serverName,
          destination,
          ...(request.body !== undefined ? { content: request.body } : {}),
        },
        this.#deps.signingKey,
      );
    }
    return {
      path,
      exchange: {
        method: request.method,
        headers,
        body,
        timeoutMs: request.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        signal: request.signal,
        maxBytes,
      },
    };
  }

  async #send(destination: string, path: string, exchange: Exchange): Promise<FederationAnswer> {
    const deploymentUrl = await this.#deps.transport?.deploymentUrlOf(destination);
    if (deploymentUrl !== undefined) {
      const answer = await plainHttpExchange(destination, {
        ...exchange,
        url: deploymentUrl + path,
        host: destination,
      });
      if (answer.headers[UNKNOWN_HOST_HEADER] === undefined) return answer;
      this.#deps.transport?.notInDeployment(destination);
    }
    const plain = this.#deps.plainHttp?.[destination];
    if (plain !== undefined) {
      return plainHttpExchange(destination, {
        ...exchange,
        url: `http://${plain}${path}`,
        host: destination,
      });
    }
    const internet = this.#deps.internet;
    if (internet === undefined) {
      throw new FederationRequestError(
        destination,
        0,
        undefined,
        `${destination} is neither a tenant of this deployment nor in federation_plain_http, and Internet federation is not configured`,
      );
    }
    return internet.send(destination, { ...exchange, path });
  }
}

function queryString(query: FederationRequest['query']): string {
  if (query === undefined) return '';
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    for (const item of typeof value === 'string' ? [value] : value) params.append(name, item);
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

function parseAnswer<T>(destination: string, answer: FederationAnswer): T {
  let json: JsonValue | undefined;
  try {
    json =
      answer.bytes.length === 0
        ? undefined
        : (JSON.parse(answer.bytes.toString('utf8')) as JsonValue);
  } catch {
    json = undefined;
  }
  if (answer.status >= 200 && answer.status < 300) {
    if (json === undefined || json === null || typeof json !== 'object') {
      throw new FederationRequestError(
        destination,
        answer.status,
        undefined,
        'the answer is not a JSON object',
      );
    }
    return json as T;
  }
  const error = json !== null && typeof json === 'object' && !Array.isArray(json) ? json : {};
  const errcode = typeof error.errcode === 'string' ? error.errcode : undefined;
  const message = typeof error.error === 'string' ? error.error : `HTTP ${answer.status}`;
  throw new FederationRequestError(
    destination,
    answer.status,
    errcode,
    message,
    json,
    retryAfterMs(answer.headers['retry-after']),
  );
}

/** `Retry-After` in seconds (the HTTP-date form is not used by homeservers) as milliseconds. */
function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const seconds = Number(Array.isArray(header) ? header[0] : header);
  return header !== undefined && Number.isFinite(seconds) && seconds >= 0
    ? seconds * 1000
    : undefined;
}

/** One plain-HTTP exchange with an explicit `Host` (fetch cannot set it). */
export function plainHttpExchange(
  destination: string,
  exchange: FederationExchange,
): Promise<FederationAnswer> {
  return new Promise((resolve, reject) => {
    const fail = (message: string, errcode?: string) =>
      reject(new FederationRequestError(destination, 0, errcode, message));
    const req = httpRequest(
      exchange.url,
      {
        method: exchange.method,
        headers: { ...exchange.headers, host: exchange.host },
        timeout: exchange.timeoutMs,
        signal: exchange.signal,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > exchange.maxBytes) {
            res.destroy();
            fail(
              `the answer of ${destination} is larger than ${exchange.maxBytes} bytes`,
              'M_TOO_LARGE',
            );
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            bytes: Buffer.concat(chunks),
          }),
        );
        res.on('error', (error) =>
          fail(`cannot read the answer of ${destination}: ${error.message}`),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${exchange.timeoutMs} ms`)));
    req.on('error', (error) => fail(`cannot reach ${destination}: ${error.message}`));
    req.end(exchange.body);
  });
}
