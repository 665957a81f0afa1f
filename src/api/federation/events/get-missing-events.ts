import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { roomParams } from './event-params.js';

/** `POST /_matrix/federation/v1/get_missing_events/{roomId}`: the events between two points. */
export const getMissingEvents = defineEndpoint({
  method: 'POST',
  paths: ['/_matrix/federation/v1/get_missing_events/:roomId'],
  auth: 'server',
  params: roomParams,
  body: z.object({
    limit: z.number().int().optional(),
    min_depth: z.number().int().optional(),
    earliest_events: z.array(z.string()),
    latest_events: z.array(z.string()),
  }),
  handler: async (ctx, req) =>
    ctx.services.federation.inbound.reads.missingEvents(req.auth.origin, req.params.roomId, {
      earliest: req.body.earliest_events,
      latest: req.body.latest_events,
      limit: req.body.limit ?? 10,
      minDepth: req.body.min_depth ?? 0,
    }),
});
