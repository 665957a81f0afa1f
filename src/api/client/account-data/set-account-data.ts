import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { requireSelf, userIdParam } from '../user-params.js';

/**
 * `PUT /user/{userId}/account_data/{type}`: sets the caller's global account data of a type
 * (`m.fully_read` and `m.push_rules` are refused with 405 M_BAD_JSON, as the spec says).
 */
export const setAccountData = defineEndpoint({
  method: 'PUT',
  paths: clientPaths('/user/:userId/account_data/:type'),
  auth: 'user',
  params: z.object({ userId: userIdParam, type: z.string() }),
  body: z.record(z.string(), z.unknown()),
  handler: async (ctx, req) => {
    const { userId, type } = req.params;
    requireSelf(req.auth, userId, 'Cannot add account data for other users');
    await ctx.services.accountData.set(userId, null, type, req.body);
    return {};
  },
});
