import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';

/** `GET /devices`: the caller's devices. */
export const getDevices = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/devices'),
  auth: 'user',
  allowGuests: true,
  handler: async (ctx, req) => ({ devices: await ctx.services.devices.list(req.auth.userId) }),
});
