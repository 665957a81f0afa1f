import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { integerQuery, roomParams } from './event-params.js';

/** `GET /_matrix/federation/v1/timestamp_to_event/{roomId}?ts=&dir=`: the event nearest `ts`. */
export const federationTimestampToEvent = defineEndpoint({
  method: 'GET',
  paths: ['/_matrix/federation/v1/timestamp_to_event/:roomId'],
  auth: 'server',
  params: roomParams,
  query: z.object({ ts: integerQuery, dir: z.enum(['b', 'f']) }),
  handler: async (ctx, req) =>
    ctx.services.federation.inbound.reads.eventByTimestamp(
      req.auth.origin,
      req.params.roomId,
      req.query.ts,
      req.query.dir,
    ),
});
