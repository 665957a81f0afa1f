import { invalidParam } from '../core/errors.js';
import type { InternalRequest, InternalRoute } from '../http/internal-api.js';
import type { Controller } from './controller.js';
import { checkServerName, parseNewTenant } from './tenant-admin.js';

/**
 * The controller's admin API, under `/_marina/controller/v1`, every route behind the admin
 * token. See docs/controller.md for the shapes and errors.
 */

const BASE = '/_marina/controller/v1';
/** Longest `/placement` long-poll; a longer `timeout` is cut to this. */
export const MAX_PLACEMENT_TIMEOUT_MS = 300_000;

export function controllerRoutes(controller: Controller): InternalRoute[] {
  return [
    {
      method: 'GET',
      path: `${BASE}/tenants`,
      handler: async () => ({ body: { tenants: await controller.listTenants() } }),
    },
    {
      method: 'POST',
      path: `${BASE}/tenants`,
      handler: async ({ body }) => ({ body: await controller.createTenant(parseNewTenant(body)) }),
    },
    {
      method: 'GET',
      path: `${BASE}/tenants/:serverName`,
      handler: async (request) => ({ body: await controller.showTenant(serverNameOf(request)) }),
    },
    {
      method: 'DELETE',
      path: `${BASE}/tenants/:serverName`,
      handler: async (request) => ({
        body: await controller.deleteTenant(serverNameOf(request), {
          purge: parseFlag(request.query.purge, 'purge'),
        }),
      }),
    },
    {
      method: 'GET',
      path: `${BASE}/placement`,
      handler: async ({ query, signal }) => {
        const since = parseCount(query.since, 'since');
        const timeout = Math.min(
          parseCount(query.timeout, 'timeout') ?? 0,
          MAX_PLACEMENT_TIMEOUT_MS,
        );
        const snapshot = await controller.placement(since, timeout, signal);
        return {
          body: {
            version: snapshot.version,
            tenants: snapshot.tenants.map((tenant) => ({
              server_name: tenant.serverName,
              hostnames: tenant.hostnames,
              shard_id: tenant.shardId,
              traffic_url: tenant.trafficUrl,
            })),
          },
        };
      },
    },
    {
      method: 'GET',
      path: `${BASE}/shards`,
      handler: async () => ({
        body: {
          shards: (await controller.shards()).map((shard) => ({
            shard_id: shard.id,
            state: shard.state,
            pid: shard.pid,
            admin_url: shard.adminUrl,
            traffic_url: shard.trafficUrl,
            tenants: shard.tenants,
          })),
        },
      }),
    },
  ];
}

function serverNameOf(request: InternalRequest): string {
  const serverName = request.params.serverName ?? '';
  checkServerName(serverName);
  return serverName;
}

function parseCount(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,15}$/.test(value)) throw invalidParam(`${name} must be a non-negative integer`);
  return Number(value);
}

function parseFlag(value: string | undefined, name: string): boolean {
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  throw invalidParam(`${name} must be true or false`);
}
