import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';

/** `GET /login`: the login types this server accepts. */
export const getLoginFlows = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/login'),
  auth: 'none',
  handler: async (ctx) => ctx.services.login.flows(),
});
