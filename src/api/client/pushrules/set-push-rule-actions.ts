import { defineEndpoint } from '../../endpoint.js';
import { actionsBody, pushRuleParams, pushRulePaths } from './push-rule-params.js';

/**
 * `PUT /pushrules/global/{kind}/{ruleId}/actions`: sets the actions of any rule, server-default
 * ones included (404 M_NOT_FOUND for an unknown rule).
 */
export const setPushRuleActions = defineEndpoint({
  method: 'PUT',
  paths: pushRulePaths('/actions'),
  auth: 'user',
  params: pushRuleParams,
  body: actionsBody,
  handler: async (ctx, req) => {
    const { kind, ruleId } = req.params;
    await ctx.services.pushRules.setActions(req.auth.userId, kind, ruleId, req.body.actions);
    return {};
  },
});
