import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';

/**
 * `POST /_matrix/federation/v1/user/keys/claim`: one one-time key (or else the fallback key) per
 * requested device of local users, as `/keys/claim` hands them out. A user of another server is
 * 400 M_INVALID_PARAM.
 */
export const claimUserKeys = defineEndpoint({
  method: 'POST',
  paths: ['/_matrix/federation/v1/user/keys/claim'],
  auth: 'server',
  body: z.looseObject({ one_time_keys: z.record(z.string(), z.record(z.string(), z.string())) }),
  handler: async (ctx, req) => ctx.services.keyClaim.claimForServer(req.body.one_time_keys),
});
