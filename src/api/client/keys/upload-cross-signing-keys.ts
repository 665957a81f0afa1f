import { z } from 'zod';
import { authDataSchema } from '../../../services/user-interactive-auth/user-interactive-auth.js';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { crossSigningKeySchema } from './key-schemas.js';

/**
 * `POST /keys/device_signing/upload`: the caller's cross-signing keys. The first upload needs no
 * user-interactive auth; replacing keys does. See docs/e2ee.md.
 */
export const uploadCrossSigningKeys = defineEndpoint({
  method: 'POST',
  paths: clientPaths('/keys/device_signing/upload', { r0: false }),
  auth: 'user',
  body: z.looseObject({
    master_key: crossSigningKeySchema.optional(),
    self_signing_key: crossSigningKeySchema.optional(),
    user_signing_key: crossSigningKeySchema.optional(),
    auth: authDataSchema.nullish(),
  }),
  handler: async (ctx, req) => {
    await ctx.services.crossSigning.upload(req.auth.userId, req.body);
    return {};
  },
});
