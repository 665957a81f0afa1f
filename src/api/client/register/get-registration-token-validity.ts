import { z } from 'zod';
import { forbidden } from '../../../core/errors.js';
import { defineEndpoint } from '../../endpoint.js';
import { clientV1Paths } from '../paths.js';

/**
 * `GET /register/m.login.registration_token/validity`: whether a registration token is usable
 * now; 403 M_FORBIDDEN unless registration is by token.
 */
export const getRegistrationTokenValidity = defineEndpoint({
  method: 'GET',
  paths: clientV1Paths('/register/m.login.registration_token/validity'),
  auth: 'none',
  query: z.object({ token: z.string() }),
  handler: async (ctx, req) => {
    if (ctx.services.registration.settings.mode !== 'token') {
      throw forbidden('Registration by token is not enabled on this homeserver');
    }
    return { valid: await ctx.services.registrationTokens.isValid(req.query.token) };
  },
});
