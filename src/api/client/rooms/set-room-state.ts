import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { contentBody, roomIdParam } from './room-params.js';

/**
 * `PUT /rooms/{roomId}/state/{eventType}/{stateKey}`: sends a state event. Without a state key
 * (with or without the trailing slash) the state key is empty.
 */
export const setRoomState = defineEndpoint({
  method: 'PUT',
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
  body: contentBody,
  handler: async (ctx, req) => {
    const { roomId, eventType, stateKey } = req.params;
    return {
      event_id: await ctx.services.roomMessages.setState(
        req.auth,
        roomId,
        eventType,
        stateKey,
        req.body,
      ),
    };
  },
});
