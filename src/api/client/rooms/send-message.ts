import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { contentBody, roomIdParam } from './room-params.js';

/**
 * `PUT /rooms/{roomId}/send/{eventType}/{txnId}`: sends a message event; the same transaction
 * ID from the same device returns the first event. `m.room.redaction` is a redaction (its
 * `redacts` moves to the top level in rooms before v11).
 */
export const sendMessage = defineEndpoint({
  method: 'PUT',
  paths: clientPaths('/rooms/:roomId/send/:eventType/:txnId'),
  auth: 'user',
  allowGuests: true,
  params: z.object({ roomId: roomIdParam, eventType: z.string().min(1), txnId: z.string().min(1) }),
  body: contentBody,
  handler: async (ctx, req) => {
    const { roomId, eventType, txnId } = req.params;
    const eventId = await ctx.services.roomMessages.send(
      req.auth,
      roomId,
      eventType,
      txnId,
      req.body,
    );
    return { event_id: eventId };
  },
});
