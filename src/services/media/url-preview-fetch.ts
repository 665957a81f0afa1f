/**
 * Fetches a URL for a preview without letting the preview reach what it must not (SSRF): we
 * resolve the host name ourselves, check every address against the tenant's policy, and connect
 * to an address we checked (pinned through the request's `lookup`, so a second DNS answer cannot
 * swap it: no DNS rebinding). Redirects are followed by hand, each hop checked the same way. The
 * body is read up to a size limit, and the whole fetch, redirects included, ends at a deadline.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { MatrixError, forbidden } from '../../core/errors.js';
import type { IpAddressPolicy } from '../../core/ip-address-policy.js';

/** Largest body read for a preview (Synapse's `max_spider_size`). */
export const DEFAULT_PREVIEW_MAX_BYTES = 10 * 1024 * 1024;
/** Redirects followed before giving up. */
export const MAX_PREVIEW_REDIRECTS = 5;

const USER_AGENT = 'Marina URL preview (bot)';

export interface PreviewFetchOptions {
  readonly policy: IpAddressPolicy;
  readonly maxBytes: number;
  /** Aborts the fetch (the preview's deadline, or the tenant stopping). */
  readonly signal: AbortSignal;
  /** Whether the body of a response of this media type (lower case, no parameters) is wanted. */
  readonly wantsBody: (mediaType: string) => boolean;
  /** Resolves a host name (default: the system resolver, all addresses). */
  readonly resolve?: (hostname: string) => Promise<string[]>;
}

export interface FetchedResource {
  /** The URL finally answered (after redirects). */
  readonly url: URL;
  /** The media type of `Content-Type`, lower case, without parameters ('' when absent). */
  readonly mediaType: string;
  /** The `charset` parameter of `Content-Type`, if any. */
  readonly charset: string | undefined;
  /** The body, when `wantsBody` asked for it. */
  readonly body: Buffer | undefined;
}

/** The fetch gave up because its signal aborted (the caller tells a deadline from a stop). */
export class PreviewFetchAborted extends Error {
  constructor() {
    super('URL preview fetch aborted');
    this.name = 'PreviewFetchAborted';
  }
}

const upstreamError = (message: string) => new MatrixError('M_UNKNOWN', message, { status: 502 });

/** Parses a URL a preview may fetch: http or https only. */
export function parsePreviewUrl(text: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (url.hostname === '') return undefined;
  return url;
}

async function systemResolve(hostname: string): Promise<string[]> {
  const addresses = await dnsLookup(hostname, { all: true, verbatim: true });
  return addresses.map((entry) => entry.address);
}

/** The first address of `url`'s host that the policy accepts; throws 403 if none, 502 if none at all. */
async function checkedAddress(url: URL, options: PreviewFetchOptions): Promise<string> {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  let addresses: string[];
  if (isIP(host) !== 0) {
    addresses = [host];
  } else {
    try {
      addresses = await abortable((options.resolve ?? systemResolve)(host), options.signal);
    } catch (error) {
      if (error instanceof PreviewFetchAborted) throw error;
      throw upstreamError('DNS resolution failure during URL preview generation');
    }
  }
  const permitted = addresses.find((address) => !options.policy.isBlocked(address));
  if (permitted === undefined) {
    throw addresses.length === 0
      ? upstreamError('DNS resolution failure during URL preview generation')
      : forbidden('IP address blocked');
  }
  return permitted;
}

/**
 * Fetches `url`, following up to `MAX_PREVIEW_REDIRECTS` redirects. Errors: a refused address →
 * 403 M_FORBIDDEN; an unreachable host, a failure status, too many redirects → 502 M_UNKNOWN; a
 * body over `maxBytes` → 502 M_TOO_LARGE; the signal aborting → `PreviewFetchAborted`.
 */
export async function fetchForPreview(
  url: URL,
  options: PreviewFetchOptions,
): Promise<FetchedResource> {
  let current = url;
  for (let redirects = 0; ; redirects++) {
    if (options.signal.aborted) throw new PreviewFetchAborted();
    const address = await checkedAddress(current, options);
    const response = await send(current, address, options.signal);
    const location = response.headers.location;
    if (response.statusCode !== undefined && isRedirect(response.statusCode) && location) {
      response.destroy();
      if (redirects >= MAX_PREVIEW_REDIRECTS) throw upstreamError('Too many redirects');
      const next = resolveRedirect(location, current);
      if (next === undefined) throw upstreamError('Redirected to a URL that cannot be previewed');
      current = next;
      continue;
    }
    return await readResponse(current, response, options);
  }
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

function resolveRedirect(location: string, base: URL): URL | undefined {
  try {
    return parsePreviewUrl(new URL(location, base).href);
  } catch {
    return undefined;
  }
}

/** Sends a GET to `url` over a connection to `address` (already checked). */
function send(url: URL, address: string, signal: AbortSignal): Promise<IncomingMessage> {
  const family = isIP(address);
  // Every name lookup of this request answers the checked address: nothing else is reached.
  const pinned: LookupFunction = (_hostname, lookupOptions, callback) => {
    if (lookupOptions.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  };
  const options: RequestOptions = {
    method: 'GET',
    lookup: pinned,
    // A connection of its own: a pooled socket was checked for another request.
    agent: false,
    signal,
    headers: {
      'User-Agent': USER_AGENT,
      Accept: 'text/html,application/xhtml+xml,image/*;q=0.9,*/*;q=0.8',
    },
  };
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, options, resolve);
    req.on('error', (error) => {
      reject(
        signal.aborted
          ? new PreviewFetchAborted()
          : upstreamError(`Fetch failed: ${error.message}`),
      );
    });
    req.end();
  });
}

async function readResponse(
  url: URL,
  response: IncomingMessage,
  options: PreviewFetchOptions,
): Promise<FetchedResource> {
  const status = response.statusCode ?? 0;
  if (status < 200 || status >= 300) {
    response.destroy();
    throw upstreamError(`Got error ${status} fetching the URL`);
  }
  const [typePart = '', ...parameters] = (response.headers['content-type'] ?? '').split(';');
  const mediaType = typePart.trim().toLowerCase();
  const charset = parameters
    .map((parameter) => /^\s*charset\s*=\s*"?([^";\s]+)"?\s*$/i.exec(parameter)?.[1])
    .find((value) => value !== undefined);
  if (!options.wantsBody(mediaType)) {
    response.destroy();
    return { url, mediaType, charset, body: undefined };
  }
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > options.maxBytes) {
    response.destroy();
    throw tooLargeUpstream();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > options.maxBytes) {
        response.destroy();
        throw tooLargeUpstream();
      }
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof MatrixError) throw error;
    throw options.signal.aborted ? new PreviewFetchAborted() : upstreamError('Fetch failed');
  }
  return { url, mediaType, charset, body: Buffer.concat(chunks, size) };
}

const tooLargeUpstream = () =>
  new MatrixError('M_TOO_LARGE', 'The content is too large to preview', { status: 502 });

/** `promise`, or `PreviewFetchAborted` as soon as the signal aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new PreviewFetchAborted());
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new PreviewFetchAborted());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
