import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { roomIdParam, userIdField } from './room-params.js';

/** `POST /rooms/{roomId}/unban`: lifts a ban (needs the `ban` level). */
export const unbanUser = defineEndpoint({
  method: 'POST',
  paths: clientPaths('/rooms/:roomId/unban'),
  auth: 'user',
  params: z.object({ roomId: roomIdParam }),
  body: z.object({ user_id: userIdField, reason: z.string().optional() }),
  handler: async (ctx, req) => {
    await ctx.services.roomMembership.unban(
      req.auth.userId,
      req.params.roomId,
      req.body.user_id,
      req.body.reason,
    );
    return {};
  },
});
