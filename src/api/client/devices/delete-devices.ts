import { z } from 'zod';
import { authDataSchema } from '../../../services/user-interactive-auth/user-interactive-auth.js';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';

/** `POST /delete_devices`, behind user-interactive auth: deletes devices and their tokens. */
export const deleteDevices = defineEndpoint({
  method: 'POST',
  paths: clientPaths('/delete_devices'),
  auth: 'user',
  body: z.looseObject({ devices: z.array(z.string()), auth: authDataSchema.nullish() }),
  handler: async (ctx, req) => {
    const { uia, devices } = ctx.services;
    const { userId } = req.auth;
    const deviceIds = [...new Set(req.body.devices)].sort();
    const authorisation = await uia.authorise({
      // The session authorises deleting exactly these devices.
      action: `POST /delete_devices ${JSON.stringify(deviceIds)}`,
      flows: await uia.flowsForUser(userId),
      auth: req.body.auth,
      userId,
    });
    await devices.delete(userId, deviceIds, authorisation);
    return {};
  },
});
