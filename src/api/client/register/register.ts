import { z } from 'zod';
import { authDataSchema } from '../../../services/user-interactive-auth/user-interactive-auth.js';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { sessionBody } from '../session-body.js';

/**
 * `POST /register`: a user account (through user-interactive auth, per the tenant's
 * `registration_mode`) or, with `kind=guest`, a guest account when `allow_guest_access` is on.
 * A guest's access token (`Authorization`, or `guest_access_token` in the body as the spec's
 * "Guest Access" says) with the guest's localpart as `username`, or none, upgrades the guest.
 * Other tokens are checked (an invalid one is 401) but change nothing.
 */
export const register = defineEndpoint({
  method: 'POST',
  paths: clientPaths('/register'),
  auth: 'optional-user',
  allowGuests: true,
  query: z.object({ kind: z.enum(['user', 'guest']).default('user') }),
  body: z.looseObject({
    auth: authDataSchema.nullish(),
    username: z.string().optional(),
    password: z.string().optional(),
    device_id: z.string().optional(),
    initial_device_display_name: z.string().optional(),
    inhibit_login: z.boolean().optional(),
    refresh_token: z.boolean().optional(),
    guest_access_token: z.string().optional(),
  }),
  handler: async (ctx, req) => {
    const { body } = req;
    const caller =
      body.guest_access_token === undefined
        ? req.auth
        : await ctx.services.accessTokens.authenticate(body.guest_access_token, req.clientIp);
    const result =
      req.query.kind === 'guest'
        ? await ctx.services.registration.registerGuest({
            initialDeviceDisplayName: body.initial_device_display_name,
            ip: req.clientIp,
          })
        : await ctx.services.registration.registerUser({
            username: body.username,
            password: body.password,
            deviceId: body.device_id,
            initialDeviceDisplayName: body.initial_device_display_name,
            inhibitLogin: body.inhibit_login === true,
            refreshable: body.refresh_token === true,
            auth: body.auth,
            ip: req.clientIp,
            guestUserId: caller?.isGuest === true ? caller.userId : undefined,
          });
    return {
      user_id: result.userId,
      home_server: ctx.serverName,
      ...(result.session ? sessionBody(result.session) : {}),
    };
  },
});
