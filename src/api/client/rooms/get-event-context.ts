import { z } from 'zod';
import { parseRoomEventFilter } from '../../../services/rooms/event-filter.js';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { eventIdParam, integerQuery, roomIdParam } from './room-params.js';

/** `GET /rooms/{roomId}/context/{eventId}`: the event with `limit` (default 10) events around it. */
export const getEventContext = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/rooms/:roomId/context/:eventId'),
  auth: 'user',
  allowGuests: true,
  params: z.object({ roomId: roomIdParam, eventId: eventIdParam }),
  query: z.object({ limit: integerQuery.optional(), filter: z.string().optional() }),
  handler: async (ctx, req) =>
    ctx.services.roomTimeline.context(
      req.auth,
      req.params.roomId,
      req.params.eventId,
      req.query.limit ?? 10,
      parseRoomEventFilter(req.query.filter),
    ),
});
