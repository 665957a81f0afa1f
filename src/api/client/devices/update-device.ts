import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';

/**
 * `PUT /devices/{deviceId}`: renames one of the caller's devices; 404 M_NOT_FOUND for a device
 * they do not have (creating devices is for application services only).
 */
export const updateDevice = defineEndpoint({
  method: 'PUT',
  paths: clientPaths('/devices/:deviceId'),
  auth: 'user',
  allowGuests: true,
  params: z.object({ deviceId: z.string() }),
  body: z.looseObject({ display_name: z.string().optional() }),
  handler: async (ctx, req) => {
    await ctx.services.devices.rename(req.auth.userId, req.params.deviceId, req.body.display_name);
    return {};
  },
});
