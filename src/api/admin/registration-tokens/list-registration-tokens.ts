import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { requireAdmin } from '../require-admin.js';

/** `GET /_synapse/admin/v1/registration_tokens[?valid=true|false]` (admins). */
export const listRegistrationTokens = defineEndpoint({
  method: 'GET',
  paths: ['/_synapse/admin/v1/registration_tokens'],
  auth: 'user',
  query: z.object({ valid: z.enum(['true', 'false']).optional() }),
  handler: async (ctx, req) => {
    requireAdmin(req.auth);
    const valid = req.query.valid === undefined ? undefined : req.query.valid === 'true';
    return { registration_tokens: await ctx.services.registrationTokens.list(valid) };
  },
});
