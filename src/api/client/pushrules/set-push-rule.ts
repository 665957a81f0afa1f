import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { pushRuleParams, pushRulePaths } from './push-rule-params.js';

/**
 * `PUT /pushrules/global/{kind}/{ruleId}`: creates or replaces one of the caller's own rules,
 * placed with `before` / `after`. Server-default rules (IDs starting with `.`) cannot be
 * created; see `PushRules.putRule` for the rest of the rules.
 */
export const setPushRule = defineEndpoint({
  method: 'PUT',
  paths: pushRulePaths(),
  auth: 'user',
  params: pushRuleParams,
  query: z.object({ before: z.string().optional(), after: z.string().optional() }),
  body: z.object({
    actions: z.array(z.unknown()),
    conditions: z.array(z.unknown()).optional(),
    pattern: z.string().optional(),
  }),
  handler: async (ctx, req) => {
    const { kind, ruleId } = req.params;
    await ctx.services.pushRules.putRule(req.auth.userId, kind, ruleId, req.body, req.query);
    return {};
  },
});
