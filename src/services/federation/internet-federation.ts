/**
 * The Internet way to another server, for the tenant's `FederationHttpClient`: server
 * discovery (`ServerDiscovery`), then one verified HTTPS exchange (`federationFetch`) over the
 * tenant's keep-alive agent. Trusts the system's certificate store plus `federation_ca_files`.
 *
 * SSRF guard: the other server's name, its well-known document and its SRV records are chosen
 * by whoever controls them, so connections made this way refuse the same addresses as URL
 * previews (`IpAddressPolicy`: loopback, private, link-local, reserved…) unless the tenant's
 * `federation_ip_allowlist` names them. The addresses are checked after resolution and the
 * connection goes to a checked one. Destinations in `federation_plain_http` are configured by the
 * operator and are not checked (nor are deployment tenants, which never come this way).
 */

import { readFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import type { Clock } from '../../core/clock.js';
import { IpAddressPolicy } from '../../core/ip-address-policy.js';
import { FederationRequestError } from './federation-contracts.js';
import { federationFetch, FederationFetchError, trustedCertificates } from './federation-fetch.js';
import type {
  FederationAnswer,
  FederationExchange,
  InternetFederation,
} from './federation-http-client.js';
import { ServerDiscovery, ServerDiscoveryError } from './server-discovery.js';

export interface InternetFederationOptions {
  clock: Clock;
  /** Extra trusted CA certificates, PEM (the contents of `federation_ca_files`). */
  extraCaPems?: readonly string[];
  /** `federation_plain_http`. */
  plainHttp?: Readonly<Record<string, string>>;
  /** DNS servers to ask instead of the system's (tests). */
  dnsServers?: readonly string[];
  /** The port of the well-known document (default 443; tests). */
  wellKnownPort?: number;
  /** `federation_ip_allowlist`: CIDR ranges reachable although private, loopback… */
  ipAllowlist?: readonly string[];
}

/** Reads the PEM files of `federation_ca_files` (absolute paths). */
export async function readCaFiles(paths: readonly string[]): Promise<string[]> {
  return Promise.all(paths.map((path) => readFile(path, 'utf8')));
}

export class InternetFederationSender implements InternetFederation {
  readonly discovery: ServerDiscovery;
  readonly #ca: readonly string[] | undefined;
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 8, maxFreeSockets: 2 });

  constructor(options: InternetFederationOptions) {
    this.#ca = trustedCertificates(options.extraCaPems ?? []);
    this.discovery = new ServerDiscovery({
      clock: options.clock,
      ca: this.#ca,
      plainHttp: options.plainHttp,
      dnsServers: options.dnsServers,
      wellKnownPort: options.wellKnownPort,
      addressPolicy: new IpAddressPolicy(options.ipAllowlist ?? []),
    });
  }

  async send(
    destination: string,
    exchange: Omit<FederationExchange, 'url' | 'host'> & { path: string },
  ): Promise<FederationAnswer> {
    try {
      const target = await this.discovery.resolveDestination(destination);
      const plain = target.scheme === 'http';
      const refused = plain ? undefined : this.discovery.refusedLiteral(target);
      if (refused !== undefined) throw new ServerDiscoveryError(destination, refused);
      const response = await federationFetch(target, {
        method: exchange.method,
        path: exchange.path,
        headers: exchange.headers,
        body: exchange.body,
        timeoutMs: exchange.timeoutMs,
        signal: exchange.signal,
        ca: this.#ca,
        // `federation_plain_http` targets are the operator's: the system resolver, unchecked.
        lookup: plain ? undefined : this.discovery.lookup,
        agent: target.scheme === 'https' ? this.#agent : undefined,
        maxResponseBytes: exchange.maxBytes,
      });
      return { status: response.status, headers: response.headers, bytes: response.bytes };
    } catch (error) {
      if (error instanceof FederationFetchError || error instanceof ServerDiscoveryError) {
        const tooLarge = error instanceof FederationFetchError && error.reason === 'too-large';
        throw new FederationRequestError(
          destination,
          0,
          tooLarge ? 'M_TOO_LARGE' : undefined,
          error.message,
        );
      }
      throw error;
    }
  }

  /** Closes the kept-alive connections (the tenant stops). */
  close(): void {
    this.#agent.destroy();
  }
}
