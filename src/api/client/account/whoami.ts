import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';

/** `GET /account/whoami`: who the access token belongs to. */
export const whoami = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/account/whoami'),
  auth: 'user',
  allowGuests: true,
  handler: async (_ctx, req) => ({
    user_id: req.auth.userId,
    device_id: req.auth.deviceId,
    is_guest: req.auth.isGuest,
  }),
});
