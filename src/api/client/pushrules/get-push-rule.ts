import { defineEndpoint } from '../../endpoint.js';
import { pushRuleParams, pushRulePaths } from './push-rule-params.js';

/** `GET /pushrules/global/{kind}/{ruleId}`: one rule (404 M_NOT_FOUND if there is none). */
export const getPushRule = defineEndpoint({
  method: 'GET',
  paths: pushRulePaths(),
  auth: 'user',
  params: pushRuleParams,
  handler: async (ctx, req) =>
    ctx.services.pushRules.getRule(req.auth.userId, req.params.kind, req.params.ruleId),
});
