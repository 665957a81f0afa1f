import { z } from 'zod';
import { missingParam } from '../../../core/errors.js';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { requireSelf, roomIdParam, userIdParam } from '../user-params.js';

/**
 * `PUT /rooms/{roomId}/typing/{userId}`: the caller types in a room for `timeout` ms (capped at
 * 30 s), or stopped. Only for yourself, only in a room you are joined to (403 otherwise).
 */
export const setTyping = defineEndpoint({
  method: 'PUT',
  paths: clientPaths('/rooms/:roomId/typing/:userId'),
  auth: 'user',
  params: z.object({ roomId: roomIdParam, userId: userIdParam }),
  body: z.object({
    typing: z.boolean(),
    timeout: z.number().int().nonnegative().optional(),
  }),
  handler: async (ctx, req) => {
    const { roomId, userId } = req.params;
    requireSelf(req.auth, userId, 'Cannot set the typing state of another user');
    const { typing, timeout } = req.body;
    // The spec lets `timeout` be left out only when the user stopped typing.
    if (typing && timeout === undefined) throw missingParam('Missing field: timeout');
    await ctx.services.typing.setTyping(roomId, userId, typing, timeout ?? 0);
    return {};
  },
});
