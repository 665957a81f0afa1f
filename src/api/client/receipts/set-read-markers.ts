import { z } from 'zod';
import { isValidEventId } from '../../../core/identifiers.js';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { roomIdParam } from '../user-params.js';

const eventIdField = z.string().refine((value) => isValidEventId(value), 'not a valid event ID');

/**
 * `POST /rooms/{roomId}/read_markers`: the fully read marker (room account data `m.fully_read`)
 * and the read receipts, public and private, in one request and one transaction.
 */
export const setReadMarkers = defineEndpoint({
  method: 'POST',
  paths: clientPaths('/rooms/:roomId/read_markers'),
  auth: 'user',
  params: z.object({ roomId: roomIdParam }),
  body: z.object({
    'm.fully_read': eventIdField.optional(),
    'm.read': eventIdField.optional(),
    'm.read.private': eventIdField.optional(),
  }),
  handler: async (ctx, req) => {
    await ctx.services.receipts.setReadMarkers(req.params.roomId, req.auth.userId, {
      fullyRead: req.body['m.fully_read'],
      read: req.body['m.read'],
      readPrivate: req.body['m.read.private'],
    });
    return {};
  },
});
