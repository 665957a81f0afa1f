import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { pushRuleParams, pushRulePaths } from './push-rule-params.js';

/**
 * `PUT /pushrules/global/{kind}/{ruleId}/enabled`: enables or disables any rule, server-default
 * ones included (404 M_NOT_FOUND for an unknown rule).
 */
export const setPushRuleEnabled = defineEndpoint({
  method: 'PUT',
  paths: pushRulePaths('/enabled'),
  auth: 'user',
  params: pushRuleParams,
  body: z.object({ enabled: z.boolean() }),
  handler: async (ctx, req) => {
    const { kind, ruleId } = req.params;
    await ctx.services.pushRules.setEnabled(req.auth.userId, kind, ruleId, req.body.enabled);
    return {};
  },
});
