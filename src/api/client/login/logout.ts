import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';

/** `POST /logout`: ends this session: its device is deleted with its tokens. */
export const logout = defineEndpoint({
  method: 'POST',
  paths: clientPaths('/logout'),
  auth: 'user',
  allowGuests: true,
  handler: async (ctx, req) => {
    await ctx.services.devices.logout(req.auth.userId, req.auth.deviceId);
    return {};
  },
});
