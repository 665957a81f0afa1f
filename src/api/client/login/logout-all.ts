import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';

/** `POST /logout/all`: ends every session of the user: all devices, all tokens. */
export const logoutAll = defineEndpoint({
  method: 'POST',
  paths: clientPaths('/logout/all'),
  auth: 'user',
  allowGuests: true,
  handler: async (ctx, req) => {
    await ctx.services.devices.logoutAll(req.auth.userId);
    return {};
  },
});
