import { defineEndpoint } from '../endpoint.js';

/**
 * `GET /.well-known/matrix/server`: where other servers reach this one for federation.
 * Defaults to the host and port of the public base URL, the address this tenant is served at.
 */
export const getServerWellKnown = defineEndpoint({
  method: 'GET',
  paths: ['/.well-known/matrix/server'],
  auth: 'none',
  handler: async (ctx) => ({
    'm.server': ctx.config.well_known_server ?? delegatedServerOf(ctx.publicBaseUrl),
  }),
});

function delegatedServerOf(publicBaseUrl: string): string {
  const url = new URL(publicBaseUrl);
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return `${url.hostname}:${port}`;
}
