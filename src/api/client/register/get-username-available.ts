import { z } from 'zod';
import { forbidden } from '../../../core/errors.js';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';

/**
 * `GET /register/available`: whether a username is valid and free (400 M_INVALID_USERNAME or
 * M_USER_IN_USE otherwise). 403 when registration is closed, as Synapse answers.
 */
export const getUsernameAvailable = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/register/available'),
  auth: 'none',
  query: z.object({ username: z.string() }),
  handler: async (ctx, req) => {
    if (ctx.services.registration.settings.mode === 'closed') {
      throw forbidden('Registration is disabled');
    }
    await ctx.services.registration.checkUsername(req.query.username);
    return { available: true };
  },
});
