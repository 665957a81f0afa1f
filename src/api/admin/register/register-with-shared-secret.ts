import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';

/**
 * `POST /_synapse/admin/v1/register`: Synapse-compatible shared-secret registration, which
 * works whatever the registration mode (it is how operators create the first admin).
 */
export const registerWithSharedSecret = defineEndpoint({
  method: 'POST',
  paths: ['/_synapse/admin/v1/register'],
  auth: 'none',
  body: z.looseObject({
    nonce: z.string(),
    username: z.string(),
    password: z.string(),
    admin: z.boolean().optional(),
    displayname: z.string().optional(),
    user_type: z.string().nullish(),
    mac: z.string(),
  }),
  handler: async (ctx, req) => {
    const result = await ctx.services.sharedSecretRegistration.register(req.body, req.clientIp);
    return {
      user_id: result.userId,
      home_server: ctx.serverName,
      access_token: result.session?.accessToken,
      device_id: result.session?.deviceId,
    };
  },
});
