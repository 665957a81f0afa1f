import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientV1Paths } from '../paths.js';
import { integerQuery, roomIdParam } from './room-params.js';

/** `GET /rooms/{roomId}/timestamp_to_event`: the visible event closest to `ts` in `dir`. */
export const getEventByTimestamp = defineEndpoint({
  method: 'GET',
  paths: clientV1Paths('/rooms/:roomId/timestamp_to_event'),
  auth: 'user',
  params: z.object({ roomId: roomIdParam }),
  query: z.object({ ts: integerQuery, dir: z.enum(['b', 'f']) }),
  handler: async (ctx, req) =>
    ctx.services.roomTimeline.eventByTimestamp(
      req.auth.userId,
      req.params.roomId,
      req.query.ts,
      req.query.dir,
    ),
});
