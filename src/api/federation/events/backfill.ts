import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { integerQuery, roomParams } from './event-params.js';

/** `GET /_matrix/federation/v1/backfill/{roomId}?v=&limit=`: the events `v` and those before. */
export const backfillRoom = defineEndpoint({
  method: 'GET',
  paths: ['/_matrix/federation/v1/backfill/:roomId'],
  auth: 'server',
  params: roomParams,
  query: z.object({
    v: z.union([z.string(), z.array(z.string())]),
    limit: integerQuery,
  }),
  handler: async (ctx, req) =>
    ctx.services.federation.inbound.reads.backfill(
      req.auth.origin,
      req.params.roomId,
      typeof req.query.v === 'string' ? [req.query.v] : req.query.v,
      req.query.limit,
    ),
});
