import { defineEndpoint } from '../../endpoint.js';
import { contentBody, stateEventParams, stateEventPaths } from './room-params.js';

/**
 * `PUT /rooms/{roomId}/state/{eventType}/{stateKey}`: sends a state event. Without a state key
 * (with or without the trailing slash) the state key is empty.
 */
export const setRoomState = defineEndpoint({
  method: 'PUT',
  paths: stateEventPaths,
  auth: 'user',
  allowGuests: true,
  params: stateEventParams,
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
