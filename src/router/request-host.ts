import type { IncomingHttpHeaders } from 'node:http';
import { hostnameOf } from '../http/host.js';

/** The host a request is addressed to, as the router routes it. */
export interface RequestHost {
  /** The header value as received (`alpha.localhost:8008`); sent on as `Host`. */
  readonly header: string | undefined;
  /** Lower-cased, port removed, IPv6 literals in brackets: the routing key. */
  readonly hostname: string | undefined;
  /** True when it came from `X-Forwarded-Host` (a trusted proxy's client's host). */
  readonly forwarded: boolean;
}

/**
 * The request's host: `Host`, or `X-Forwarded-Host` when the peer is a trusted proxy (which
 * received the request under that name). A list in `X-Forwarded-Host` (proxies in a chain) gives
 * its first entry: the host the client asked for.
 */
export function requestHost(headers: IncomingHttpHeaders, fromTrustedProxy: boolean): RequestHost {
  if (fromTrustedProxy) {
    const forwarded = firstListEntry(headers['x-forwarded-host']);
    if (forwarded !== undefined) {
      return { header: forwarded, hostname: hostnameOf(forwarded), forwarded: true };
    }
  }
  const host = headers.host?.trim() || undefined;
  return { header: host, hostname: hostnameOf(host), forwarded: false };
}

/** The first entry of a comma-separated header (node joins repeated headers with ", "). */
export function firstListEntry(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  const first = text?.split(',')[0]?.trim();
  return first ? first : undefined;
}
