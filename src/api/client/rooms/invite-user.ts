import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { roomIdParam, userIdField } from './room-params.js';

/** `POST /rooms/{roomId}/invite`: invites a user of this server (others need federation). */
export const inviteUser = defineEndpoint({
  method: 'POST',
  paths: clientPaths('/rooms/:roomId/invite'),
  auth: 'user',
  params: z.object({ roomId: roomIdParam }),
  body: z.object({ user_id: userIdField, reason: z.string().optional() }),
  handler: async (ctx, req) => {
    await ctx.services.roomMembership.invite(req.auth.userId, req.params.roomId, req.body.user_id, {
      reason: req.body.reason,
    });
    return {};
  },
});
