import { defineEndpoint } from '../../endpoint.js';
import { pushRuleParams, pushRulePaths } from './push-rule-params.js';

/** `GET /pushrules/global/{kind}/{ruleId}/enabled`: `{ enabled }` of a rule. */
export const getPushRuleEnabled = defineEndpoint({
  method: 'GET',
  paths: pushRulePaths('/enabled'),
  auth: 'user',
  params: pushRuleParams,
  handler: async (ctx, req) => {
    const { kind, ruleId } = req.params;
    const rule = await ctx.services.pushRules.getRule(req.auth.userId, kind, ruleId);
    return { enabled: rule.enabled };
  },
});
