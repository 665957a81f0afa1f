import { z } from 'zod';
import type { JsonObject } from '../../../core/canonical-json.js';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';

/**
 * `POST /keys/signatures/upload`: signatures of the caller's devices and master key, and of other
 * users' master keys; each key that fails is listed in `failures`. See docs/e2ee.md.
 */
export const uploadSignatures = defineEndpoint({
  method: 'POST',
  paths: clientPaths('/keys/signatures/upload', { r0: false }),
  auth: 'user',
  body: z.record(
    z.string(),
    z.record(
      z.string(),
      z.record(z.string(), z.unknown()).transform((value) => value as JsonObject),
    ),
  ),
  handler: async (ctx, req) => ctx.services.signatureUpload.upload(req.auth.userId, req.body),
});
