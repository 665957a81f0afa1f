import { firstListEntry } from './request-host.js';

/**
 * The headers a proxied request and its response carry across the router. Hop-by-hop headers
 * (RFC 9110 §7.6.1) describe one connection, so they stop here; everything else passes as
 * received, in order, repeated headers kept.
 */

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Set by the router for the shard; whatever the client sent under these names is dropped. */
const SET_BY_ROUTER = new Set([
  'host',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-request-id',
  // The router has answered `100 Continue` itself already.
  'expect',
]);

/** Raw headers (`[name, value, name, value, …]`, as node gives them) without hop-by-hop ones. */
export function endToEndHeaders(rawHeaders: readonly string[]): string[] {
  const named = new Set<string>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]?.toLowerCase() !== 'connection') continue;
    for (const token of (rawHeaders[i + 1] ?? '').split(',')) {
      const name = token.trim().toLowerCase();
      if (name) named.add(name);
    }
  }
  const kept: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] ?? '';
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named.has(lower)) continue;
    kept.push(name, rawHeaders[i + 1] ?? '');
  }
  return kept;
}

export interface ForwardingFacts {
  /** `Host` for the shard: the host the client asked for, or the default tenant's name. */
  readonly host: string;
  /** The host the client asked for, as received (`X-Forwarded-Host`), if any. */
  readonly originalHost: string | undefined;
  /** The TCP peer, IPv4-mapped addresses unwrapped. */
  readonly peerAddress: string;
  /** Whether the peer is a trusted proxy, whose own forwarding headers are then extended. */
  readonly peerTrusted: boolean;
  readonly requestId: string;
  /** How the client reached the router (default `http`; `https` on its TLS listener). */
  readonly proto?: 'http' | 'https';
}

/** The headers the shard gets: the client's end-to-end ones, then the router's own. */
export function upstreamRequestHeaders(
  rawHeaders: readonly string[],
  facts: ForwardingFacts,
): string[] {
  const received = (name: string) => {
    const values: string[] = [];
    for (let i = 0; i < rawHeaders.length; i += 2) {
      if (rawHeaders[i]?.toLowerCase() === name) values.push(rawHeaders[i + 1] ?? '');
    }
    return values.length === 0 ? undefined : values.join(', ');
  };
  const trusted = (name: string) => (facts.peerTrusted ? received(name) : undefined);

  const endToEnd = endToEndHeaders(rawHeaders);
  const headers: string[] = [];
  for (let i = 0; i < endToEnd.length; i += 2) {
    const name = endToEnd[i] ?? '';
    if (!SET_BY_ROUTER.has(name.toLowerCase())) headers.push(name, endToEnd[i + 1] ?? '');
  }
  const forwardedFor = trusted('x-forwarded-for');
  headers.push('Host', facts.host);
  headers.push(
    'X-Forwarded-For',
    forwardedFor ? `${forwardedFor}, ${facts.peerAddress}` : facts.peerAddress,
  );
  headers.push(
    'X-Forwarded-Proto',
    firstListEntry(trusted('x-forwarded-proto')) ?? facts.proto ?? 'http',
  );
  if (facts.originalHost !== undefined) headers.push('X-Forwarded-Host', facts.originalHost);
  headers.push('X-Request-Id', facts.requestId);
  return headers;
}
