import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { requireSelf, userIdParam } from '../user-params.js';

/** `GET /user/{userId}/account_data/{type}`: the caller's global account data of a type. */
export const getAccountData = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/user/:userId/account_data/:type'),
  auth: 'user',
  params: z.object({ userId: userIdParam, type: z.string() }),
  handler: async (ctx, req) => {
    const { userId, type } = req.params;
    requireSelf(req.auth, userId, 'Cannot get account data of other users');
    return ctx.services.accountData.get(userId, null, type);
  },
});
