import { defineEndpoint } from '../../endpoint.js';
import { pushRuleParams, pushRulePaths } from './push-rule-params.js';

/** `GET /pushrules/global/{kind}/{ruleId}/actions`: `{ actions }` of a rule. */
export const getPushRuleActions = defineEndpoint({
  method: 'GET',
  paths: pushRulePaths('/actions'),
  auth: 'user',
  params: pushRuleParams,
  handler: async (ctx, req) => {
    const { kind, ruleId } = req.params;
    const rule = await ctx.services.pushRules.getRule(req.auth.userId, kind, ruleId);
    return { actions: rule.actions };
  },
});
