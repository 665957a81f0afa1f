import { defineEndpoint } from '../../endpoint.js';
import { pushRuleParams, pushRulePaths } from './push-rule-params.js';

/**
 * `DELETE /pushrules/global/{kind}/{ruleId}`: deletes one of the caller's own rules (404
 * M_NOT_FOUND if there is none; server-default rules cannot be deleted, only disabled).
 */
export const deletePushRule = defineEndpoint({
  method: 'DELETE',
  paths: pushRulePaths(),
  auth: 'user',
  params: pushRuleParams,
  handler: async (ctx, req) => {
    await ctx.services.pushRules.deleteRule(req.auth.userId, req.params.kind, req.params.ruleId);
    return {};
  },
});
