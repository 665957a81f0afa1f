import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { requireAdmin } from '../require-admin.js';

/** `POST /_synapse/admin/v1/registration_tokens/new` (admins): creates a registration token. */
export const createRegistrationToken = defineEndpoint({
  method: 'POST',
  paths: ['/_synapse/admin/v1/registration_tokens/new'],
  auth: 'user',
  body: z.looseObject({
    token: z.string().optional(),
    uses_allowed: z.number().int().nullish(),
    expiry_time: z.number().int().nullish(),
    length: z.number().int().optional(),
  }),
  handler: async (ctx, req) => {
    requireAdmin(req.auth);
    return ctx.services.registrationTokens.create({
      token: req.body.token,
      usesAllowed: req.body.uses_allowed,
      expiryTime: req.body.expiry_time,
      length: req.body.length,
    });
  },
});
