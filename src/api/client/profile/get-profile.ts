import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { userIdParam } from '../user-params.js';

/**
 * `GET /profile/{userId}`: a local user's displayname and avatar; 404 M_NOT_FOUND for unknown
 * users (remote profiles need federation, which comes later).
 */
export const getProfile = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/profile/:userId'),
  auth: 'none',
  params: z.object({ userId: userIdParam }),
  handler: async (ctx, req) => ctx.services.profiles.get(req.params.userId),
});
