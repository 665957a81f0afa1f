/**
 * How a shard's tenants reach the other tenants of their deployment: through the router
 * (`marina shard --federation-router URL`), with the same signed request as over the Internet,
 * its `Host` the destination's server name — no DNS, no TLS. The router answers a host that is
 * none of its tenants with `X-Marina-Unknown-Host: 1`; the tenant then reports the destination
 * with `notInDeployment`, and for five minutes it goes by Internet discovery instead (so a
 * tenant created meanwhile is found soon after).
 */

import { isIP } from 'node:net';
import { systemClock, type Clock } from '../core/clock.js';
import { serverNameParts } from '../core/identifiers.js';
import type { FederationTransport } from '../services/federation/federation-contracts.js';

/** How long a destination the router did not know is sent by the Internet instead. */
export const NOT_IN_DEPLOYMENT_MS = 5 * 60_000;
/** Destinations remembered as not in the deployment, at most (the oldest are forgotten). */
const MAX_REMEMBERED = 10_000;

export class RouterFederationTransport implements FederationTransport {
  readonly #routerUrl: string;
  readonly #clock: Clock;
  /** Destination → when the router last said it is none of its tenants. */
  readonly #notHere = new Map<string, number>();

  constructor(routerUrl: string, clock: Clock = systemClock) {
    const url = new URL(routerUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`the federation router URL must be http(s)://, not ${routerUrl}`);
    }
    this.#routerUrl = url.origin;
    this.#clock = clock;
  }

  deploymentUrlOf(destination: string): Promise<string | undefined> {
    // The router serves its default tenant to requests addressed by IP address: a server
    // named by one is never sent there.
    if (isIpLiteral(destination)) return Promise.resolve(undefined);
    const since = this.#notHere.get(destination);
    if (since !== undefined) {
      if (this.#clock.now() - since < NOT_IN_DEPLOYMENT_MS) return Promise.resolve(undefined);
      this.#notHere.delete(destination);
    }
    return Promise.resolve(this.#routerUrl);
  }

  notInDeployment(destination: string): void {
    this.#notHere.delete(destination);
    this.#notHere.set(destination, this.#clock.now());
    if (this.#notHere.size > MAX_REMEMBERED) {
      const oldest = this.#notHere.keys().next().value;
      if (oldest !== undefined) this.#notHere.delete(oldest);
    }
  }
}

function isIpLiteral(serverName: string): boolean {
  try {
    return serverNameParts(serverName).kind !== 'dns';
  } catch {
    return isIP(serverName) !== 0;
  }
}
