import { z } from 'zod';
import { authDataSchema } from '../../../services/user-interactive-auth/user-interactive-auth.js';
import { defineEndpoint } from '../../endpoint.js';
import { clientV1Paths } from '../paths.js';

/**
 * `POST /login/get_token`: a single-use `m.login.token` for another client of the same user.
 * The spec says to re-prompt every time: the session is used up by each token.
 */
export const createLoginToken = defineEndpoint({
  method: 'POST',
  paths: clientV1Paths('/login/get_token'),
  auth: 'user',
  body: z.looseObject({ auth: authDataSchema.nullish() }),
  handler: async (ctx, req) => {
    const { userId } = req.auth;
    const authorisation = await ctx.services.uia.authorise({
      action: 'POST /login/get_token',
      flows: await ctx.services.uia.flowsForUser(userId),
      auth: req.body.auth,
      userId,
    });
    const { token, expiresInMs } = await ctx.services.login.createLoginToken(userId, authorisation);
    return { login_token: token, expires_in_ms: expiresInMs };
  },
});
