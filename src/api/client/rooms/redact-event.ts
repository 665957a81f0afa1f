import { z } from 'zod';
import type { JsonObject } from '../../../core/canonical-json.js';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { eventIdParam, roomIdParam } from './room-params.js';

/** `PUT /rooms/{roomId}/redact/{eventId}/{txnId}`: redacts an event (idempotent per txnId). */
export const redactEvent = defineEndpoint({
  method: 'PUT',
  paths: clientPaths('/rooms/:roomId/redact/:eventId/:txnId'),
  auth: 'user',
  params: z.object({ roomId: roomIdParam, eventId: eventIdParam, txnId: z.string().min(1) }),
  body: z.object({ reason: z.string().optional() }),
  handler: async (ctx, req) => {
    const { roomId, eventId, txnId } = req.params;
    const extra: JsonObject = req.body.reason === undefined ? {} : { reason: req.body.reason };
    return {
      event_id: await ctx.services.roomMessages.redact(req.auth, roomId, eventId, txnId, extra),
    };
  },
});
