import { z } from 'zod';
import { unknownToken } from '../../../core/errors.js';
import { defineEndpoint } from '../../endpoint.js';

/**
 * `GET /_matrix/federation/v1/openid/userinfo?access_token=`: whose OpenID token this is
 * (`{sub}`), for the third party a user handed it to; no request signature (the caller is
 * rarely a homeserver). 401 M_UNKNOWN_TOKEN for an unknown or expired token.
 */
export const openidUserinfo = defineEndpoint({
  method: 'GET',
  paths: ['/_matrix/federation/v1/openid/userinfo'],
  auth: 'none',
  query: z.object({ access_token: z.string() }),
  handler: async (ctx, req) => {
    const userId = await ctx.services.openidTokens.userOf(req.query.access_token);
    if (userId === undefined) throw unknownToken('Access token unknown or expired');
    return { sub: userId };
  },
});
