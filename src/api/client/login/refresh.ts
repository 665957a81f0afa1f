import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';

/** `POST /refresh`: new access and refresh tokens for the session of a refresh token. */
export const refresh = defineEndpoint({
  method: 'POST',
  paths: clientPaths('/refresh', { r0: false }),
  auth: 'none',
  body: z.object({ refresh_token: z.string() }),
  handler: async (ctx, req) => {
    const issued = await ctx.services.accessTokens.refresh(req.body.refresh_token);
    return {
      access_token: issued.accessToken,
      refresh_token: issued.refreshToken,
      expires_in_ms: issued.expiresInMs,
    };
  },
});
