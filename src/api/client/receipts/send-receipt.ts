import { z } from 'zod';
import { invalidParam } from '../../../core/errors.js';
import { isValidEventId } from '../../../core/identifiers.js';
import { RECEIPT_ENDPOINT_TYPES } from '../../../services/ephemeral/receipts.js';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { roomIdParam } from '../user-params.js';

/**
 * `POST /rooms/{roomId}/receipt/{receiptType}/{eventId}`: `m.read`, private `m.read.private`
 * (threaded with `thread_id`: `main` or a thread root) or the `m.fully_read` marker, which this
 * sets as `/read_markers` does. 403 outside the room, 404 for an event not in it.
 */
export const sendReceipt = defineEndpoint({
  method: 'POST',
  paths: clientPaths('/rooms/:roomId/receipt/:receiptType/:eventId'),
  auth: 'user',
  params: z.object({
    roomId: roomIdParam,
    receiptType: z.enum(RECEIPT_ENDPOINT_TYPES),
    eventId: z.string().refine((value) => isValidEventId(value), 'not a valid event ID'),
  }),
  // Other fields are ignored: the server sets `ts` itself.
  body: z.object({ thread_id: z.unknown().optional() }),
  handler: async (ctx, req) => {
    const { roomId, receiptType, eventId } = req.params;
    const threadId = req.body.thread_id;
    // The spec answers a thread_id of the wrong type with M_INVALID_PARAM, not M_BAD_JSON.
    if (threadId !== undefined && typeof threadId !== 'string') {
      throw invalidParam('thread_id field must be a non-empty string');
    }
    await ctx.services.receipts.sendReceipt(
      roomId,
      req.auth.userId,
      receiptType,
      eventId,
      threadId,
    );
    return {};
  },
});
