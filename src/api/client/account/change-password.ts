import { z } from 'zod';
import {
  STAGE_PASSWORD,
  authDataSchema,
} from '../../../services/user-interactive-auth/user-interactive-auth.js';
import { forbidden } from '../../../core/errors.js';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';

/**
 * `POST /account/password`, behind user-interactive auth. With an access token the user is the
 * token's and the flow is a password re-check; without one, the password stage says who the
 * user is. Other devices are logged out unless `logout_devices` is false; the caller's stays.
 */
export const changePassword = defineEndpoint({
  method: 'POST',
  paths: clientPaths('/account/password'),
  auth: 'optional-user',
  body: z.looseObject({
    new_password: z.string(),
    logout_devices: z.boolean().optional(),
    auth: authDataSchema.nullish(),
  }),
  handler: async (ctx, req) => {
    const { uia, users } = ctx.services;
    const authorisation = await uia.authorise({
      action: 'POST /account/password',
      flows: req.auth ? await uia.flowsForUser(req.auth.userId) : [[STAGE_PASSWORD]],
      auth: req.body.auth,
      userId: req.auth?.userId ?? null,
    });
    // Every flow offered identifies the user (token or password), so this is only a safeguard.
    const userId = authorisation.userId;
    if (userId === null) throw forbidden('No user was authenticated');
    await users.changePassword(userId, req.body.new_password, {
      authorisation,
      logoutDevices: req.body.logout_devices !== false,
      keepDeviceId: req.auth?.deviceId,
    });
    return {};
  },
});
