import { defaultPushRules } from '../../../services/push/default-push-rules.js';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';

/**
 * `GET /pushrules/`: the caller's push rulesets. Only the server-default rules exist; rules cannot
 * be changed yet.
 */
export const getPushRules = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/pushrules/'),
  auth: 'user',
  handler: async (_ctx, req) => ({ global: defaultPushRules(req.auth.userId) }),
});

/** `GET /pushrules/global/`: the caller's global ruleset. */
export const getGlobalPushRules = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/pushrules/global/'),
  auth: 'user',
  handler: async (_ctx, req) => defaultPushRules(req.auth.userId),
});
