import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { requireSelf, roomIdParam, userIdParam } from '../user-params.js';

/** `GET /user/{userId}/rooms/{roomId}/account_data/{type}`: the caller's data for a room. */
export const getRoomAccountData = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/user/:userId/rooms/:roomId/account_data/:type'),
  auth: 'user',
  params: z.object({ userId: userIdParam, roomId: roomIdParam, type: z.string() }),
  handler: async (ctx, req) => {
    const { userId, roomId, type } = req.params;
    requireSelf(req.auth, userId, 'Cannot get account data of other users');
    return ctx.services.accountData.get(userId, roomId, type);
  },
});
