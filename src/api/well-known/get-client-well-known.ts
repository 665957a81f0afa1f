import { defineEndpoint } from '../endpoint.js';

/** `GET /.well-known/matrix/client`: where clients find this homeserver. */
export const getClientWellKnown = defineEndpoint({
  method: 'GET',
  paths: ['/.well-known/matrix/client'],
  auth: 'none',
  handler: async (ctx) => ({ 'm.homeserver': { base_url: ctx.publicBaseUrl } }),
});
