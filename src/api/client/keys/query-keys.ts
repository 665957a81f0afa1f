import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { federationTimeoutSchema } from './key-schemas.js';

/**
 * `POST /keys/query`: users' device identity keys and cross-signing keys (`[]`: all of a user's
 * devices). Users of other servers are asked of their servers, within `timeout` ms (default 10 s);
 * a server that fails is listed in `failures`. See docs/e2ee.md.
 */
export const queryKeys = defineEndpoint({
  method: 'POST',
  paths: clientPaths('/keys/query'),
  auth: 'user',
  allowGuests: true,
  body: z.looseObject({
    device_keys: z.record(z.string(), z.array(z.string())),
    timeout: federationTimeoutSchema,
  }),
  handler: async (ctx, req) =>
    ctx.services.keyQuery.query(req.auth.userId, req.body.device_keys, req.body.timeout),
});
