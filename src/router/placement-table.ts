import { isIP } from 'node:net';
import { hostnameOf } from '../http/host.js';
import type { Placement } from './placement.js';

/** Where the router sends a tenant's requests. */
export interface TenantRoute {
  readonly serverName: string;
  readonly shardId: string | null;
  /** The shard's traffic origin; null while the tenant is on no shard that takes traffic. */
  readonly trafficUrl: URL | null;
  /** A move is in progress: requests wait for a placement where it is over. */
  readonly moving: boolean;
}

export interface TableLookup {
  readonly route: TenantRoute;
  /** True when the request named no host (or an IP address) and the default tenant was chosen. */
  readonly byDefault: boolean;
}

/**
 * One placement, indexed by host name: a tenant is found by its server_name or any of its host
 * names, compared as the router compares request hosts (lower-cased, port removed). Immutable: a
 * new placement builds a new table, so a request sees one consistent table from start to end.
 */
export class PlacementTable {
  private readonly byHostname = new Map<string, TenantRoute>();
  private readonly byServerName = new Map<string, TenantRoute>();
  /** Host names claimed by two tenants (the first keeps them), and unusable traffic URLs. */
  readonly problems: string[] = [];
  readonly version: number;

  constructor(
    placement: Placement,
    private readonly defaultTenant?: string,
  ) {
    this.version = placement.version;
    for (const tenant of placement.tenants) {
      const route: TenantRoute = {
        serverName: tenant.server_name,
        shardId: tenant.shard_id,
        trafficUrl: this.trafficUrlOf(tenant.server_name, tenant.traffic_url),
        moving: tenant.moving === true,
      };
      this.byServerName.set(tenant.server_name, route);
      for (const name of [tenant.server_name, ...tenant.hostnames]) {
        const hostname = hostnameOf(name);
        if (hostname === undefined) continue;
        const holder = this.byHostname.get(hostname);
        if (holder === undefined) this.byHostname.set(hostname, route);
        else if (holder !== route) {
          this.problems.push(
            `host ${hostname} of ${tenant.server_name} already routes to ${holder.serverName}`,
          );
        }
      }
    }
  }

  get tenantCount(): number {
    return this.byServerName.size;
  }

  /** The traffic origins this table sends requests to. */
  trafficOrigins(): Set<string> {
    const origins = new Set<string>();
    for (const route of this.byServerName.values()) {
      if (route.trafficUrl) origins.add(route.trafficUrl.origin);
    }
    return origins;
  }

  /**
   * The tenant that claims a request host name (already normalized). The default tenant answers
   * only requests that name no host, or an IP address (a client that connected by address, as
   * to `http://127.0.0.1:8008`): a name reaches only the tenant that claims it, so the name of a
   * deleted or never created tenant is unknown, never quietly served by another homeserver.
   */
  lookup(hostname: string | undefined): TableLookup | undefined {
    const route = hostname === undefined ? undefined : this.byHostname.get(hostname);
    if (route) return { route, byDefault: false };
    if (hostname !== undefined && !isAddress(hostname)) return undefined;
    const fallback =
      this.defaultTenant === undefined ? undefined : this.byServerName.get(this.defaultTenant);
    return fallback ? { route: fallback, byDefault: true } : undefined;
  }

  private trafficUrlOf(serverName: string, trafficUrl: string | null): URL | null {
    if (trafficUrl === null) return null;
    let url: URL;
    try {
      url = new URL(trafficUrl);
    } catch {
      url = new URL('invalid:');
    }
    if (url.protocol !== 'http:') {
      this.problems.push(`traffic URL of ${serverName} is not an http:// URL: ${trafficUrl}`);
      return null;
    }
    return url;
  }
}

/** An IPv4 or IPv6 address (IPv6 in brackets, as hostnameOf gives it). */
function isAddress(hostname: string): boolean {
  return isIP(hostname.replace(/^\[(.*)\]$/, '$1')) !== 0;
}
