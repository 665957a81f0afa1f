/**
 * The shard's admin API (docs/shard.md), served on its own loopback listener through
 * createInternalApi: the controller tells the shard which tenants to host and reads their state;
 * Prometheus scrapes `/metrics` (the one route without the token).
 */
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { MatrixError, badJson, invalidParam, notFound } from '../core/errors.js';
import type { InternalRoute } from '../http/internal-api.js';
import { tenantConfigSchema, type TenantConfig } from '../services/tenant-config.js';
import { HostnameTakenError, type Shard } from './shard.js';

export const SHARD_ADMIN_BASE = '/_marina/shard/v1';

const putTenantBody = z.object({ config: tenantConfigSchema });

export function shardAdminRoutes(shard: Shard, shardId: string): InternalRoute[] {
  return [
    {
      method: 'PUT',
      path: `${SHARD_ADMIN_BASE}/tenants/:serverName`,
      handler: async ({ params, body }) => {
        const config = tenantConfigFrom(params.serverName as string, body);
        try {
          await shard.putTenant(config);
        } catch (error) {
          if (error instanceof HostnameTakenError) {
            throw new MatrixError('M_INVALID_PARAM', error.message, { status: 409 });
          }
          throw error;
        }
        return { body: {} };
      },
    },
    {
      method: 'DELETE',
      path: `${SHARD_ADMIN_BASE}/tenants/:serverName`,
      handler: async ({ params }) => {
        const serverName = params.serverName as string;
        if (!(await shard.removeTenant(serverName))) throw noTenant(serverName);
        return { body: {} };
      },
    },
    {
      method: 'POST',
      path: `${SHARD_ADMIN_BASE}/tenants/:serverName/hibernate`,
      handler: async ({ params }) => {
        const serverName = params.serverName as string;
        if (!(await shard.hibernateTenant(serverName))) throw noTenant(serverName);
        return { body: {} };
      },
    },
    {
      method: 'GET',
      path: `${SHARD_ADMIN_BASE}/status`,
      handler: async () => ({
        body: { shard_id: shardId, tenants: shard.tenantStatuses() },
      }),
    },
    {
      method: 'GET',
      path: '/metrics',
      public: true,
      handler: async () => {
        const { contentType, body } = await shard.metrics.render();
        return { body, contentType };
      },
    },
  ];
}

/** The tenant config of a PUT: valid, for the tenant the path names, every path absolute. */
function tenantConfigFrom(serverName: string, body: unknown): TenantConfig {
  const parsed = putTenantBody.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw badJson(
      `the body must be { "config": <tenant config> }: ${issue?.path.join('.') || '(top)'}: ${issue?.message}`,
    );
  }
  const { config } = parsed.data;
  if (config.server_name !== serverName) {
    throw invalidParam(`config.server_name is ${config.server_name}, the path names ${serverName}`);
  }
  const paths: [string, string][] = [['signing_key_path', config.signing_key_path]];
  if (config.media_store.kind === 'local')
    paths.push(['media_store.path', config.media_store.path]);
  if (config.database.dialect === 'sqlite') paths.push(['database.path', config.database.path]);
  config.federation_ca_files.forEach((file, i) => paths.push([`federation_ca_files.${i}`, file]));
  for (const [field, path] of paths) {
    if (!isAbsolute(path)) throw invalidParam(`config.${field} must be an absolute path`);
  }
  return {
    ...config,
    hostnames: config.hostnames.length > 0 ? config.hostnames : [config.server_name],
  };
}

function noTenant(serverName: string): MatrixError {
  return notFound(`No tenant ${serverName} on this shard`);
}
