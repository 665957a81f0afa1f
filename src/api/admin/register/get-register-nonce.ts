import { defineEndpoint } from '../../endpoint.js';

/** `GET /_synapse/admin/v1/register`: a nonce for shared-secret registration (valid 60 s). */
export const getRegisterNonce = defineEndpoint({
  method: 'GET',
  paths: ['/_synapse/admin/v1/register'],
  auth: 'none',
  handler: async (ctx) => ({ nonce: ctx.services.sharedSecretRegistration.newNonce() }),
});
