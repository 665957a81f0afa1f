import { z } from 'zod';
import { MAX_STATUS_MSG_LENGTH, PRESENCE_STATES } from '../../../services/ephemeral/presence.js';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { requireSelf, userIdParam } from '../user-params.js';

/**
 * `PUT /presence/{userId}/status`: sets the caller's presence and status message (leaving the
 * message out clears it). Someone else's presence is 403.
 */
export const setPresence = defineEndpoint({
  method: 'PUT',
  paths: clientPaths('/presence/:userId/status'),
  auth: 'user',
  params: z.object({ userId: userIdParam }),
  body: z.object({
    presence: z.enum(PRESENCE_STATES),
    status_msg: z.string().max(MAX_STATUS_MSG_LENGTH).nullable().optional(),
  }),
  handler: async (ctx, req) => {
    const { userId } = req.params;
    requireSelf(req.auth, userId, 'Cannot set the presence of another user');
    const { presence, status_msg } = req.body;
    await ctx.services.presence.setPresence(userId, presence, status_msg, req.auth.deviceId);
    return {};
  },
});
