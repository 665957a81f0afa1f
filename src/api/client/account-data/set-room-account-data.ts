import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { requireSelf, roomIdParam, userIdParam } from '../user-params.js';

/** `PUT /user/{userId}/rooms/{roomId}/account_data/{type}`: sets the caller's data for a room. */
export const setRoomAccountData = defineEndpoint({
  method: 'PUT',
  paths: clientPaths('/user/:userId/rooms/:roomId/account_data/:type'),
  auth: 'user',
  params: z.object({ userId: userIdParam, roomId: roomIdParam, type: z.string() }),
  body: z.record(z.string(), z.unknown()),
  handler: async (ctx, req) => {
    const { userId, roomId, type } = req.params;
    requireSelf(req.auth, userId, 'Cannot add account data for other users');
    await ctx.services.accountData.set(userId, roomId, type, req.body);
    return {};
  },
});
