/**
 * One HTTP(S) exchange with another server at an address that server discovery found: connect
 * to `connectHost:port`, verify the certificate against the name discovery says it must carry
 * (which is not always the host connected to: an SRV target serves the certificate of the
 * server name), and send the `Host` header discovery chose. Built on node:http/https because
 * `fetch` can set neither the `Host` header nor the certificate name.
 *
 * The spec sets no maximum size for federation answers; a cap is still needed so that one
 * server cannot exhaust a shard's memory: `DEFAULT_MAX_RESPONSE_BYTES` (256 MiB, room for the
 * state of a very large room), smaller per call where the answer is known to be small.
 */

import {
  request as httpRequest,
  type Agent as HttpAgent,
  type IncomingHttpHeaders,
} from 'node:http';
import { request as httpsRequest, type Agent as HttpsAgent } from 'node:https';
import type { LookupFunction } from 'node:net';
import { isIP } from 'node:net';
import { checkServerIdentity, rootCertificates, type PeerCertificate } from 'node:tls';
import type { JsonValue } from '../../core/canonical-json.js';

export const DEFAULT_FETCH_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

/** Where and how to reach one server, as server discovery found it. */
export interface FederationTarget {
  /** `https` (federation) or `http` (plain-HTTP destinations of `federation_plain_http`). */
  readonly scheme: 'https' | 'http';
  /** What to connect to: an IP address, or a host name looked up with `lookup`. */
  readonly connectHost: string;
  readonly port: number;
  /** The name (host name or IP address) the server's certificate must be valid for. */
  readonly tlsName: string;
  /** The `Host` header to send. */
  readonly hostHeader: string;
}

export interface FederationFetchOptions {
  readonly method: string;
  /** Path and query string, already encoded. */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
  /** Gives up after this long without the whole answer (default 30 s). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Larger answers fail with `too-large` (default `DEFAULT_MAX_RESPONSE_BYTES`). */
  readonly maxResponseBytes?: number;
  /**
   * The certificates to trust (PEM); undefined: Node's default store. Build it with
   * `trustedCertificates(extraPems)`.
   */
  readonly ca?: readonly string[];
  /** How host names are turned into addresses (default: the operating system's resolver). */
  readonly lookup?: LookupFunction;
  /** A keep-alive agent of the caller's (default: a fresh connection per request). */
  readonly agent?: HttpAgent | HttpsAgent;
}

export interface FederationResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The body as text (UTF-8). */
  readonly body: string;
  /** The body's bytes. */
  readonly bytes: Buffer;
  /** The body parsed as JSON; undefined when it is empty or not JSON. */
  readonly json: JsonValue | undefined;
}

export type FederationFetchFailure = 'unreachable' | 'timeout' | 'aborted' | 'too-large';

/** The exchange did not complete: no connection, bad certificate, timeout, abort, too large. */
export class FederationFetchError extends Error {
  constructor(
    readonly reason: FederationFetchFailure,
    message: string,
  ) {
    super(message);
    this.name = 'FederationFetchError';
  }
}

/** Node's default certificate store plus the given PEM certificates (`federation_ca_files`). */
export function trustedCertificates(extraPems: readonly string[]): readonly string[] | undefined {
  return extraPems.length === 0 ? undefined : [...rootCertificates, ...extraPems];
}

/** Sends one request to `target` and reads the whole answer (any status). */
export function federationFetch(
  target: FederationTarget,
  options: FederationFetchOptions,
): Promise<FederationResponse> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
  const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const where = `${target.hostHeader} (${target.scheme}://${hostForUrl(target.connectHost)}:${target.port})`;
  return new Promise<FederationResponse>((resolve, reject) => {
    let settled = false;
    const finish = (outcome: FederationResponse | FederationFetchError) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      options.signal?.removeEventListener('abort', onAbort);
      if (outcome instanceof FederationFetchError) {
        req.destroy();
        reject(outcome);
      } else resolve(outcome);
    };
    const common = {
      host: target.connectHost,
      port: target.port,
      method: options.method,
      path: options.path,
      headers: { ...options.headers, host: target.hostHeader },
      lookup: options.lookup,
      agent: options.agent,
    };
    const req =
      target.scheme === 'https'
        ? httpsRequest({
            ...common,
            // SNI carries a host name only, never an IP address (RFC 6066).
            ...(isIP(target.tlsName) === 0 ? { servername: target.tlsName } : {}),
            ca: options.ca as string[] | undefined,
            checkServerIdentity: (_host: string, cert: PeerCertificate) =>
              checkServerIdentity(target.tlsName, cert),
          })
        : httpRequest(common);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) {
          finish(
            new FederationFetchError(
              'too-large',
              `the answer of ${where} is larger than ${maxBytes} bytes`,
            ),
          );
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        const body = bytes.toString('utf8');
        finish({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          bytes,
          json: parseJson(body),
        });
      });
      res.on('error', (error) =>
        finish(
          new FederationFetchError(
            'unreachable',
            `cannot read the answer of ${where}: ${error.message}`,
          ),
        ),
      );
    });
    req.on('error', (error) =>
      finish(new FederationFetchError('unreachable', `cannot reach ${where}: ${error.message}`)),
    );
    const deadline = setTimeout(
      () =>
        finish(
          new FederationFetchError('timeout', `no answer from ${where} within ${timeoutMs} ms`),
        ),
      timeoutMs,
    );
    const onAbort = () =>
      finish(new FederationFetchError('aborted', `the request to ${where} was aborted`));
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
    req.end(options.body);
  });
}

function parseJson(text: string): JsonValue | undefined {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return undefined;
  }
}

function hostForUrl(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}
