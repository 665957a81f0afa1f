import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { requireSelf, userIdParam } from '../user-params.js';

/**
 * `POST /user/{userId}/openid/request_token`: an OpenID token for the caller, to hand to a third
 * party that checks it with `GET /_matrix/federation/v1/openid/userinfo`. For yourself only
 * (403 M_FORBIDDEN otherwise); the body is an empty object, reserved.
 */
export const requestOpenidToken = defineEndpoint({
  method: 'POST',
  paths: clientPaths('/user/:userId/openid/request_token'),
  auth: 'user',
  params: z.object({ userId: userIdParam }),
  body: z.object({}).passthrough(),
  handler: async (ctx, req) => {
    requireSelf(req.auth, req.params.userId, 'Cannot request OpenID tokens for other users');
    return ctx.services.openidTokens.issue(req.auth.userId);
  },
});
