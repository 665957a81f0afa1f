import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { federationTimeoutSchema } from './key-schemas.js';

/**
 * `POST /keys/claim`: one one-time key (or else the fallback key) per requested device and
 * algorithm; a one-time key is never handed out twice. Other servers' users' keys are claimed
 * from their servers within `timeout` ms (default 10 s). See docs/e2ee.md.
 */
export const claimKeys = defineEndpoint({
  method: 'POST',
  paths: clientPaths('/keys/claim'),
  auth: 'user',
  allowGuests: true,
  body: z.looseObject({
    one_time_keys: z.record(z.string(), z.record(z.string(), z.string())),
    timeout: federationTimeoutSchema,
  }),
  handler: async (ctx, req) =>
    ctx.services.keyClaim.claim(req.body.one_time_keys, req.body.timeout),
});
