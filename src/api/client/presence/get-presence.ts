import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { userIdParam } from '../user-params.js';

/**
 * `GET /presence/{userId}/status`: a user's presence, for themselves and for users who share a
 * room with them (403 otherwise); 404 for a user this server does not have.
 */
export const getPresence = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/presence/:userId/status'),
  auth: 'user',
  params: z.object({ userId: userIdParam }),
  handler: async (ctx, req) =>
    ctx.services.presence.getPresence(req.auth.userId, req.params.userId),
});
