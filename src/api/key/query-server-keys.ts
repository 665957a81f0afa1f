import { z } from 'zod';
import type { JsonObject } from '../../core/canonical-json.js';
import type { TenantContext } from '../../services/tenant-context.js';
import { integerQuery } from '../client/rooms/room-params.js';
import { defineEndpoint } from '../endpoint.js';

/**
 * The notary endpoints (`/_matrix/key/v2/query`): other servers' key documents as this tenant
 * has them (fetched if the cached ones expire too soon), each with this tenant's signature
 * added. A server that cannot be reached and has nothing cached gives no document.
 */
export const queryServerKeys = defineEndpoint({
  method: 'GET',
  paths: ['/_matrix/key/v2/query/:serverName'],
  auth: 'none',
  params: z.object({ serverName: z.string().min(1) }),
  query: z.object({ minimum_valid_until_ts: integerQuery.optional() }),
  handler: async (ctx, req) => ({
    server_keys: await notarised(
      ctx,
      req.params.serverName,
      req.query.minimum_valid_until_ts ?? ctx.clock.now(),
    ),
  }),
});

const minimumValidity = z.object({ minimum_valid_until_ts: z.number().int().optional() });

export const queryServerKeysBatch = defineEndpoint({
  method: 'POST',
  paths: ['/_matrix/key/v2/query'],
  auth: 'none',
  body: z.object({
    server_keys: z.record(z.string().min(1), z.record(z.string(), minimumValidity)),
  }),
  handler: async (ctx, req) => {
    const documents: JsonObject[] = [];
    for (const [serverName, keys] of Object.entries(req.body.server_keys)) {
      const wanted = Object.values(keys).map((key) => key.minimum_valid_until_ts ?? 0);
      const minimum = wanted.length === 0 ? ctx.clock.now() : Math.max(...wanted);
      documents.push(...(await notarised(ctx, serverName, minimum)));
    }
    return { server_keys: documents };
  },
});

async function notarised(
  ctx: TenantContext,
  serverName: string,
  minimumValidUntilTs: number,
): Promise<JsonObject[]> {
  const documents = await ctx.services.federation.remoteKeys.keyDocuments(
    serverName,
    minimumValidUntilTs,
  );
  return documents.map((document) => ctx.services.serverKeys.sign(document));
}
