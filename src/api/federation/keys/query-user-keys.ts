import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';

/**
 * `POST /_matrix/federation/v1/user/keys/query`: the device identity keys (`[]`: all devices)
 * and master and self-signing keys of local users, as `/keys/query` gives them but with only
 * the signatures their owners made. A user of another server is 400 M_INVALID_PARAM.
 */
export const queryUserKeys = defineEndpoint({
  method: 'POST',
  paths: ['/_matrix/federation/v1/user/keys/query'],
  auth: 'server',
  body: z.looseObject({ device_keys: z.record(z.string(), z.array(z.string())) }),
  handler: async (ctx, req) => ctx.services.keyQuery.queryForServer(req.body.device_keys),
});
