/**
 * Server discovery ("Resolving server names" of the server-server API): where a server name's
 * federation API is, which `Host` header to send there and which name its certificate must
 * carry. In the spec's order:
 *
 * 1. an IP literal: that address, its port or 8448, certificate for the address;
 * 2. a host name with a port: that host and port, certificate for the host name;
 * 3. `https://<hostname>/.well-known/matrix/server`: its `m.server` delegates to another name,
 *    resolved by the same steps (IP literal, explicit port, SRV `_matrix-fed._tcp` then the
 *    deprecated `_matrix._tcp`, else port 8448), certificate and `Host` for the delegated name;
 * 4./5. without a usable well-known: SRV `_matrix-fed._tcp.<hostname>`, then `_matrix._tcp`
 *    (the SRV target is connected to, but the certificate and `Host` stay `<hostname>`);
 * 6. else `<hostname>:8448`.
 *
 * Names are turned into addresses (CNAME, AAAA, A) when connecting, by `lookup()`, through this
 * object's own `Resolver` (servers settable: tests run a DNS server on loopback). Well-known
 * answers are cached as the spec recommends: `Cache-Control: max-age` or `Expires`, else 24 h,
 * at least 5 minutes and at most 48 h; an answer that delegates nothing (non-200, not JSON, no
 * valid `m.server`) for an hour; a server that could not be reached for 2 minutes, doubling with
 * each failure in a row up to an hour. The spec sets no size limit on the well-known document;
 * we read at most 50 KiB of it (as Synapse does). The caches belong to the tenant's
 * `ServerDiscovery`: nothing is shared between tenants.
 *
 * With an `addressPolicy` (SSRF guard), `lookup()` hands out only the addresses the policy
 * accepts, so a connection goes to an address that was checked (no DNS rebinding: the address
 * checked is the one connected to), and `refusedLiteral()` tells whether a target that is an IP
 * address itself (never looked up) is refused. Well-known fetches are guarded the same way.
 */

import { Resolver } from 'node:dns/promises';
import { Agent } from 'node:https';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import type { Clock } from '../../core/clock.js';
import type { IpAddressPolicy } from '../../core/ip-address-policy.js';
import { isValidServerName, serverNameParts } from '../../core/identifiers.js';
import type { ResolvedDestination } from './federation-contracts.js';
import {
  federationFetch,
  FederationFetchError,
  type FederationTarget,
} from './federation-fetch.js';

export const DEFAULT_FEDERATION_PORT = 8448;
const WELL_KNOWN_PATH = '/.well-known/matrix/server';
const WELL_KNOWN_MAX_BYTES = 50 * 1024;
const WELL_KNOWN_TIMEOUT_MS = 10_000;
const WELL_KNOWN_MAX_REDIRECTS = 5;
const HOUR_MS = 60 * 60_000;
export const WELL_KNOWN_DEFAULT_CACHE_MS = 24 * HOUR_MS;
export const WELL_KNOWN_MAX_CACHE_MS = 48 * HOUR_MS;
export const WELL_KNOWN_MIN_CACHE_MS = 5 * 60_000;
/** How long an answer that delegates nothing (404, bad JSON, …) is remembered. */
export const WELL_KNOWN_INVALID_CACHE_MS = HOUR_MS;
/** How long an unreachable well-known is remembered after the first failure (doubling after). */
export const WELL_KNOWN_DOWN_CACHE_MS = 2 * 60_000;
/** How long a whole resolution (well-known + SRV) is reused before the DNS is asked again. */
export const RESOLUTION_CACHE_MS = 10 * 60_000;
/** Entries kept per cache; the oldest go first. */
const MAX_CACHE_ENTRIES = 10_000;

/** Where a server's federation API is, and how to talk to it. */
export interface DiscoveredServer extends ResolvedDestination, FederationTarget {}

/** The server name cannot be resolved at all (invalid name, SRV says "no service"). */
export class ServerDiscoveryError extends Error {
  constructor(
    readonly serverName: string,
    message: string,
  ) {
    super(message);
    this.name = 'ServerDiscoveryError';
  }
}

export interface ServerDiscoveryOptions {
  clock: Clock;
  /** DNS servers (`"127.0.0.1:5353"`, `"[::1]:53"`); default: the system's. */
  dnsServers?: readonly string[];
  /** Trusted certificates for the well-known request (see `trustedCertificates`). */
  ca?: readonly string[];
  /** `federation_plain_http`: server name → `host:port` reached over plain HTTP. */
  plainHttp?: Readonly<Record<string, string>>;
  /** The port of `https://<hostname>/.well-known` (443; tests use another). */
  wellKnownPort?: number;
  /** Addresses that may not be connected to (absent: any address may). */
  addressPolicy?: Pick<IpAddressPolicy, 'isBlocked'>;
}

interface WellKnownEntry {
  /** The delegated server name, or undefined when the answer delegated nothing. */
  readonly delegated: string | undefined;
  readonly expiresAt: number;
  /** Consecutive failures to reach the server (for the back-off). */
  readonly failures: number;
}

/** A tenant's server discovery, with its caches. */
export class ServerDiscovery {
  readonly #options: ServerDiscoveryOptions;
  readonly #resolver: Resolver;
  readonly #wellKnown = new Map<string, WellKnownEntry>();
  readonly #resolved = new Map<string, { server: DiscoveredServer; expiresAt: number }>();
  readonly #inFlight = new Map<string, Promise<DiscoveredServer>>();
  /**
   * Well-known fetches get connections of their own, never a pooled socket of the process's
   * global agent (made by another tenant, under another allow list, or before a DNS change).
   */
  readonly #wellKnownAgent = new Agent({ keepAlive: false });
  /** Turns names into addresses through this object's resolver (for `federationFetch`). */
  readonly lookup: LookupFunction;

  constructor(options: ServerDiscoveryOptions) {
    this.#options = options;
    this.#resolver = new Resolver({ timeout: 5_000, tries: 2 });
    if (options.dnsServers !== undefined && options.dnsServers.length > 0) {
      this.#resolver.setServers([...options.dnsServers]);
    }
    this.lookup = resolverLookup(this.#resolver, options.addressPolicy);
  }

  /**
   * Why a connection to `target` is refused when it is an IP address the policy refuses (such a
   * target is connected to without `lookup`); undefined when it may be connected to.
   */
  refusedLiteral(target: FederationTarget): string | undefined {
    const policy = this.#options.addressPolicy;
    if (policy === undefined || isIP(target.connectHost) === 0) return undefined;
    if (!policy.isBlocked(target.connectHost)) return undefined;
    return `refused to connect to ${target.connectHost}: ${REFUSED_REASON}`;
  }

  /** Where `serverName`'s federation API is (cached; see the module comment). */
  async resolveDestination(serverName: string): Promise<DiscoveredServer> {
    const now = this.#options.clock.now();
    const cached = this.#resolved.get(serverName);
    if (cached !== undefined && cached.expiresAt > now) return cached.server;
    const running = this.#inFlight.get(serverName);
    if (running !== undefined) return running;
    const resolution = this.#resolve(serverName).finally(() => this.#inFlight.delete(serverName));
    this.#inFlight.set(serverName, resolution);
    const server = await resolution;
    // Never kept past the well-known answer it was made from.
    const wellKnownExpiry = this.#wellKnown.get(hostnameOf(serverName))?.expiresAt ?? Infinity;
    remember(this.#resolved, serverName, {
      server,
      expiresAt: Math.min(this.#options.clock.now() + RESOLUTION_CACHE_MS, wellKnownExpiry),
    });
    return server;
  }

  async #resolve(serverName: string): Promise<DiscoveredServer> {
    const plain = this.#options.plainHttp?.[serverName];
    if (plain !== undefined) return plainHttpTarget(serverName, plain);
    if (!isValidServerName(serverName)) {
      throw new ServerDiscoveryError(serverName, `${serverName} is not a valid server name`);
    }
    const { host, port, kind } = serverNameParts(serverName);
    // Steps 1 and 2: the name says where.
    if (kind !== 'dns') return ipTarget(serverName, host, port);
    if (port !== undefined) return target(host, port, host, serverName);
    // Step 3: delegation by the well-known document.
    const delegated = await this.#delegationOf(host);
    if (delegated !== undefined) {
      const parts = serverNameParts(delegated);
      if (parts.kind !== 'dns') return ipTarget(delegated, parts.host, parts.port);
      if (parts.port !== undefined) return target(parts.host, parts.port, parts.host, delegated);
      return this.#bySrvOrDefault(parts.host);
    }
    // Steps 4 to 6.
    return this.#bySrvOrDefault(host);
  }

  /** SRV `_matrix-fed._tcp`, then `_matrix._tcp`, else port 8448; certificate and Host: `hostname`. */
  async #bySrvOrDefault(hostname: string): Promise<DiscoveredServer> {
    for (const service of ['_matrix-fed._tcp', '_matrix._tcp']) {
      const records = await this.#srv(`${service}.${hostname}`);
      if (records === undefined) continue;
      const chosen = chooseSrvRecord(records);
      if (chosen === undefined) {
        throw new ServerDiscoveryError(
          hostname,
          `${service}.${hostname} says there is no federation service`,
        );
      }
      return target(chosen.name, chosen.port, hostname, hostname);
    }
    return target(hostname, DEFAULT_FEDERATION_PORT, hostname, hostname);
  }

  /** The SRV records of `name`; undefined when it has none. */
  async #srv(name: string): Promise<SrvRecord[] | undefined> {
    try {
      const records = await this.#resolver.resolveSrv(name);
      return records.length === 0 ? undefined : records;
    } catch (error) {
      if (isNoSuchRecord(error)) return undefined;
      throw new ServerDiscoveryError(
        name,
        `cannot look up the SRV record ${name}: ${(error as Error).message}`,
      );
    }
  }

  /** The `m.server` of `hostname`'s well-known document, from the cache or fetched. */
  async #delegationOf(hostname: string): Promise<string | undefined> {
    const now = this.#options.clock.now();
    const cached = this.#wellKnown.get(hostname);
    if (cached !== undefined && cached.expiresAt > now) return cached.delegated;
    const entry = await this.#fetchWellKnown(hostname, cached?.failures ?? 0);
    remember(this.#wellKnown, hostname, entry);
    return entry.delegated;
  }

  async #fetchWellKnown(hostname: string, failuresBefore: number): Promise<WellKnownEntry> {
    const now = () => this.#options.clock.now();
    const visited = new Set<string>();
    let url = new URL(`https://${hostname}${WELL_KNOWN_PATH}`);
    if (this.#options.wellKnownPort !== undefined) url.port = String(this.#options.wellKnownPort);
    for (let redirects = 0; ; redirects += 1) {
      visited.add(url.href);
      // Redirected to an IP address that may not be reached: as if it delegated nothing.
      if (this.refusedLiteral(urlTarget(url)) !== undefined) return invalidWellKnown(now());
      let response;
      try {
        response = await federationFetch(urlTarget(url), {
          method: 'GET',
          path: url.pathname + url.search,
          headers: { accept: 'application/json' },
          timeoutMs: WELL_KNOWN_TIMEOUT_MS,
          maxResponseBytes: WELL_KNOWN_MAX_BYTES,
          ca: this.#options.ca,
          lookup: this.lookup,
          agent: this.#wellKnownAgent,
        });
      } catch (error) {
        if (!(error instanceof FederationFetchError)) throw error;
        // Unreachable: back off, doubling with each failure in a row, up to an hour.
        const failures = failuresBefore + 1;
        const pause = Math.min(WELL_KNOWN_DOWN_CACHE_MS * 2 ** (failures - 1), HOUR_MS);
        return { delegated: undefined, expiresAt: now() + pause, failures };
      }
      const location = response.headers.location;
      if (response.status >= 300 && response.status < 400 && location !== undefined) {
        const next = redirectTarget(url, location);
        if (next === undefined || visited.has(next.href) || redirects >= WELL_KNOWN_MAX_REDIRECTS) {
          return invalidWellKnown(now());
        }
        url = next;
        continue;
      }
      const delegated = response.status === 200 ? delegationIn(response.json) : undefined;
      if (delegated === undefined) return invalidWellKnown(now());
      return {
        delegated,
        expiresAt: now() + cacheLifetimeMs(response.headers, now()),
        failures: 0,
      };
    }
  }
}

interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

/**
 * The record to use (RFC 2782): lowest priority, then by weight at random. Undefined when the
 * only record is `.` (the service is decidedly not available).
 */
export function chooseSrvRecord(
  records: readonly SrvRecord[],
  random: () => number = Math.random,
): SrvRecord | undefined {
  const usable = records.filter((record) => record.name !== '' && record.name !== '.');
  if (usable.length === 0) return undefined;
  const best = Math.min(...usable.map((record) => record.priority));
  const candidates = usable.filter((record) => record.priority === best);
  const total = candidates.reduce((sum, record) => sum + record.weight, 0);
  if (total === 0) return candidates[Math.floor(random() * candidates.length)];
  let pick = random() * total;
  for (const record of candidates) {
    pick -= record.weight;
    if (pick < 0) return record;
  }
  return candidates[candidates.length - 1];
}

/**
 * How long to keep a valid well-known answer: `Cache-Control` (`max-age`; `no-store` and
 * `no-cache` mean as short as we allow), else `Expires`, else 24 h; within [5 min, 48 h].
 */
export function cacheLifetimeMs(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  now: number,
): number {
  const clamp = (ms: number) =>
    Math.min(Math.max(ms, WELL_KNOWN_MIN_CACHE_MS), WELL_KNOWN_MAX_CACHE_MS);
  const cacheControl = headerText(headers['cache-control']);
  if (cacheControl !== undefined) {
    const directives = cacheControl.split(',').map((part) => part.trim().toLowerCase());
    if (directives.some((d) => d === 'no-store' || d === 'no-cache')) return clamp(0);
    for (const directive of directives) {
      const match = /^max-age\s*=\s*"?(\d+)"?$/.exec(directive);
      if (match) return clamp(Number(match[1]) * 1000);
    }
  }
  const expires = headerText(headers.expires);
  if (expires !== undefined) {
    const at = Date.parse(expires);
    // Relative to the server's own Date when it sent one (clocks differ).
    const date = Date.parse(headerText(headers.date) ?? '');
    if (!Number.isNaN(at)) return clamp(at - (Number.isNaN(date) ? now : date));
    return clamp(0);
  }
  return WELL_KNOWN_DEFAULT_CACHE_MS;
}

/** The host part of a server name, as the well-known cache is keyed. */
function hostnameOf(serverName: string): string {
  return isValidServerName(serverName) ? serverNameParts(serverName).host : serverName;
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The valid `m.server` of a well-known document, if any. */
function delegationIn(json: unknown): string | undefined {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return undefined;
  const delegated = (json as Record<string, unknown>)['m.server'];
  return isValidServerName(delegated) ? delegated : undefined;
}

function invalidWellKnown(now: number): WellKnownEntry {
  return { delegated: undefined, expiresAt: now + WELL_KNOWN_INVALID_CACHE_MS, failures: 0 };
}

/** An https redirect target (relative ones resolved); undefined for anything else. */
function redirectTarget(from: URL, location: string): URL | undefined {
  try {
    const next = new URL(location, from);
    return next.protocol === 'https:' ? next : undefined;
  } catch {
    return undefined;
  }
}

function urlTarget(url: URL): FederationTarget {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return {
    scheme: 'https',
    connectHost: host,
    port: url.port === '' ? 443 : Number(url.port),
    tlsName: host,
    hostHeader: url.host,
  };
}

/** Steps 1 and 3.1: an IP literal; `Host` is the name as given, the certificate the address's. */
function ipTarget(name: string, bracketedHost: string, port: number | undefined): DiscoveredServer {
  const address = bracketedHost.replace(/^\[(.*)\]$/, '$1');
  return target(address, port ?? DEFAULT_FEDERATION_PORT, address, name);
}

function target(
  connectHost: string,
  port: number,
  tlsName: string,
  hostHeader: string,
): DiscoveredServer {
  const urlHost = isIP(connectHost) === 6 ? `[${connectHost}]` : connectHost;
  return {
    scheme: 'https',
    connectHost,
    port,
    tlsName,
    hostHeader,
    baseUrl: `https://${urlHost}:${port}`,
    host: hostHeader,
  };
}

function plainHttpTarget(serverName: string, hostPort: string): DiscoveredServer {
  const url = new URL(`http://${hostPort}`);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port === '' ? 80 : Number(url.port);
  return {
    scheme: 'http',
    connectHost: host,
    port,
    tlsName: host,
    hostHeader: serverName,
    baseUrl: `http://${url.host}`,
    host: serverName,
  };
}

function isNoSuchRecord(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'ENOTFOUND' || code === 'ENODATA';
}

function remember<V>(cache: Map<string, V>, key: string, value: V): void {
  cache.delete(key);
  cache.set(key, value);
  if (cache.size > MAX_CACHE_ENTRIES) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
}

const REFUSED_REASON =
  'a loopback, private, link-local or reserved address, which federation_ip_allowlist does not name';

/**
 * A `lookup` for node:net that asks `resolver` (AAAA then A; CNAMEs are followed by the DNS
 * server), so that connections use the same DNS as discovery. With a `policy`, only the
 * addresses it accepts are handed out (none left: the lookup fails with `EADDRREFUSED`).
 */
export function resolverLookup(
  resolver: Resolver,
  policy?: Pick<IpAddressPolicy, 'isBlocked'>,
): LookupFunction {
  return (hostname: string, options: LookupOptions, callback) => {
    void addressesOf(resolver, hostname, options.family).then(
      (found) => {
        const addresses = policy
          ? found.filter((entry) => !policy.isBlocked(entry.address))
          : found;
        const first = addresses[0];
        if (first === undefined) {
          const refused = found.map((entry) => entry.address).join(', ');
          const error: NodeJS.ErrnoException = new Error(
            found.length === 0
              ? `no address for ${hostname}`
              : `refused to connect to ${hostname} (${refused}): ${REFUSED_REASON}`,
          );
          error.code = found.length === 0 ? 'ENOTFOUND' : 'EADDRREFUSED';
          callback(error, '', 4);
        } else if (options.all === true) callback(null, addresses);
        else callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 4),
    );
  };
}

async function addressesOf(
  resolver: Resolver,
  hostname: string,
  family: number | string | undefined,
): Promise<LookupAddress[]> {
  const literal = isIP(hostname);
  if (literal !== 0) return [{ address: hostname, family: literal }];
  const wanted = family === 'IPv4' ? 4 : family === 'IPv6' ? 6 : (family ?? 0);
  const none = (error: unknown): string[] => {
    if (isNoSuchRecord(error)) return [];
    throw error;
  };
  const [v6, v4] = await Promise.all([
    wanted === 4 ? [] : resolver.resolve6(hostname).catch(none),
    wanted === 6 ? [] : resolver.resolve4(hostname).catch(none),
  ]);
  return [
    ...v6.map((address) => ({ address, family: 6 })),
    ...v4.map((address) => ({ address, family: 4 })),
  ];
}
