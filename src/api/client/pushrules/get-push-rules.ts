import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';

/**
 * `GET /pushrules/`: the caller's push rulesets (only `global` exists): the server-default
 * rules with the caller's changes, and the caller's own rules, in evaluation order.
 */
export const getPushRules = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/pushrules/'),
  auth: 'user',
  handler: async (ctx, req) => ({
    global: await ctx.services.pushRules.ruleset(req.auth.userId),
  }),
});

/** `GET /pushrules/global/`: the caller's global ruleset. */
export const getGlobalPushRules = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/pushrules/global/'),
  auth: 'user',
  handler: async (ctx, req) => ctx.services.pushRules.ruleset(req.auth.userId),
});
