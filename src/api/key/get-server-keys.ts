import { defineEndpoint } from '../endpoint.js';

/**
 * `GET /_matrix/key/v2/server`: the tenant's published signing keys, signed by itself. The
 * deprecated `/{keyId}` form returns the same document, as the spec allows.
 */
export const getServerKeys = defineEndpoint({
  method: 'GET',
  paths: ['/_matrix/key/v2/server', '/_matrix/key/v2/server/:keyId'],
  auth: 'none',
  handler: async (ctx) => ctx.services.serverKeys.publishedKeys(),
});
