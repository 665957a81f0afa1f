import { badJson, invalidParam } from '../core/errors.js';
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
        const routerId = query.router_id;
        if (routerId !== undefined && !/^[\w.:-]{1,64}$/.test(routerId)) {
          throw invalidParam('router_id must be 1 to 64 letters, digits, or . _ : -');
        }
        const snapshot = await controller.placement(since, timeout, signal, routerId);
        return {
          body: {
            version: snapshot.version,
            tenants: snapshot.tenants.map((tenant) => ({
              server_name: tenant.serverName,
              hostnames: tenant.hostnames,
              shard_id: tenant.shardId,
              traffic_url: tenant.trafficUrl,
              moving: tenant.moving,
            })),
          },
        };
      },
    },
    {
      method: 'POST',
      path: `${BASE}/tenants/:serverName/move`,
      handler: async (request) => {
        const to = optionalString(request.body, 'to');
        if (to !== undefined && !/^shard-\d{1,6}$/.test(to)) {
          throw invalidParam(`"to" must name a shard (shard-K), not ${JSON.stringify(to)}`);
        }
        return { body: await controller.moveTenant(serverNameOf(request), { to }) };
      },
    },
    {
      method: 'GET',
      path: `${BASE}/moves`,
      handler: async () => ({ body: { moves: controller.listMoves() } }),
    },
    {
      method: 'POST',
      path: `${BASE}/shards/:shardId/drain`,
      handler: async ({ params }) => ({
        body: await controller.drainShard(params.shardId ?? ''),
      }),
    },
    {
      method: 'POST',
      path: `${BASE}/upgrade`,
      handler: async ({ body }) => {
        const version = optionalString(body, 'version') ?? controller.ownVersion;
        if (!/^[\w.+-]{1,64}$/.test(version)) {
          throw invalidParam('version must be 1 to 64 letters, digits, or . _ + -');
        }
        return { status: 202, body: await controller.startUpgrade(version) };
      },
    },
    {
      method: 'GET',
      path: `${BASE}/upgrade`,
      handler: async () => ({ body: await controller.upgradeStatus() }),
    },
    {
      method: 'GET',
      path: '/metrics',
      public: true,
      handler: async () => {
        const { contentType, body } = await controller.metrics.render();
        return { body, contentType };
      },
    },
    {
      method: 'GET',
      path: `${BASE}/shards`,
      handler: async () => ({
        body: {
          shards: (await controller.shards()).map((shard) => ({
            shard_id: shard.id,
            version: shard.version,
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

/** A string field of an optional JSON object body. */
function optionalString(body: unknown, field: string): string | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body !== 'object' || Array.isArray(body))
    throw badJson('the body must be a JSON object');
  const value = (body as Record<string, unknown>)[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw badJson(`"${field}" must be a string`);
  return value;
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
