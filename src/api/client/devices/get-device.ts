import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';

/** `GET /devices/{deviceId}`: one of the caller's devices; 404 M_NOT_FOUND for others. */
export const getDevice = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/devices/:deviceId'),
  auth: 'user',
  allowGuests: true,
  params: z.object({ deviceId: z.string() }),
  handler: async (ctx, req) => ctx.services.devices.get(req.auth.userId, req.params.deviceId),
});
