import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { eventIdParam, roomIdParam } from './room-params.js';

/** `GET /rooms/{roomId}/event/{eventId}`: 404 M_NOT_FOUND unless the caller may see it. */
export const getRoomEvent = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/rooms/:roomId/event/:eventId'),
  auth: 'user',
  allowGuests: true,
  params: z.object({ roomId: roomIdParam, eventId: eventIdParam }),
  handler: async (ctx, req) =>
    ctx.services.roomTimeline.event(req.auth, req.params.roomId, req.params.eventId),
});
