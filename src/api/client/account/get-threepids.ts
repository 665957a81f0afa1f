import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';

/**
 * `GET /account/3pid`: always empty, since this server does not store third-party IDs; clients
 * (Element's settings page) need the call to succeed.
 */
export const getThreepids = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/account/3pid'),
  auth: 'user',
  handler: async () => ({ threepids: [] }),
});
