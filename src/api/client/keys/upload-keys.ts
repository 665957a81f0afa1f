import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { deviceKeysSchema, oneTimeKeysSchema } from './key-schemas.js';

/**
 * `POST /keys/upload`: the caller's device publishes its identity keys, one-time keys and
 * fallback keys; answers how many one-time keys it holds. See docs/e2ee.md.
 */
export const uploadKeys = defineEndpoint({
  method: 'POST',
  paths: clientPaths('/keys/upload'),
  auth: 'user',
  allowGuests: true,
  body: z.looseObject({
    device_keys: deviceKeysSchema.optional(),
    one_time_keys: oneTimeKeysSchema.optional(),
    fallback_keys: oneTimeKeysSchema.optional(),
  }),
  handler: async (ctx, req) => {
    const { userId, deviceId } = req.auth;
    return ctx.services.keyUpload.upload({ userId, deviceId }, req.body);
  },
});
