import { z } from 'zod';
import { authDataSchema } from '../../../services/user-interactive-auth/user-interactive-auth.js';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';

/**
 * `DELETE /devices/{deviceId}`, behind user-interactive auth: deletes the device and its tokens
 * (a device that does not exist counts as deleted).
 */
export const deleteDevice = defineEndpoint({
  method: 'DELETE',
  paths: clientPaths('/devices/:deviceId'),
  auth: 'user',
  params: z.object({ deviceId: z.string() }),
  body: z.looseObject({ auth: authDataSchema.nullish() }),
  handler: async (ctx, req) => {
    const { uia, devices } = ctx.services;
    const { userId } = req.auth;
    const authorisation = await uia.authorise({
      action: `DELETE /devices/${req.params.deviceId}`,
      flows: await uia.flowsForUser(userId),
      auth: req.body.auth,
      userId,
    });
    await devices.delete(userId, [req.params.deviceId], authorisation);
    return {};
  },
});
