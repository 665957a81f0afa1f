import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { stateEventParams, stateEventPaths } from './room-params.js';

/**
 * `GET /rooms/{roomId}/state/{eventType}/{stateKey}`: one state event's content, or the whole
 * event with `format=event`.
 */
export const getRoomStateEvent = defineEndpoint({
  method: 'GET',
  paths: stateEventPaths,
  auth: 'user',
  allowGuests: true,
  params: stateEventParams,
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
