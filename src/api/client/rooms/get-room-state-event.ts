import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { roomIdParam } from './room-params.js';

/**
 * `GET /rooms/{roomId}/state/{eventType}/{stateKey}`: one state event's content, or the whole
 * event with `format=event`.
 */
export const getRoomStateEvent = defineEndpoint({
  method: 'GET',
  paths: [
    ...clientPaths('/rooms/:roomId/state/:eventType/:stateKey'),
    ...clientPaths('/rooms/:roomId/state/:eventType/'),
    ...clientPaths('/rooms/:roomId/state/:eventType'),
  ],
  auth: 'user',
  allowGuests: true,
  params: z.object({
    roomId: roomIdParam,
    eventType: z.string().min(1),
    stateKey: z.string().default(''),
  }),
  query: z.object({ format: z.enum(['content', 'event']).default('content') }),
  handler: async (ctx, req) => {
    const { roomId, eventType, stateKey } = req.params;
    return ctx.services.roomState.stateEvent(
      req.auth,
      roomId,
      eventType,
      stateKey,
      req.query.format,
    );
  },
});
