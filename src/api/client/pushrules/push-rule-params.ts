import { z } from 'zod';
import { PUSH_RULE_KINDS } from '../../../services/push/push-rule.js';
import { clientPaths } from '../paths.js';

/** `/pushrules/global/{kind}/{ruleId}` and what follows it (`/enabled`, `/actions`). */
export function pushRulePaths(suffix = ''): string[] {
  return clientPaths(`/pushrules/global/:kind/:ruleId${suffix}`);
}

/** The rule's kind (one of the five, else 400 M_INVALID_PARAM) and ID. */
export const pushRuleParams = z.object({
  kind: z.enum(PUSH_RULE_KINDS),
  ruleId: z.string().min(1),
});

/** `{ actions: [...] }`: a missing list is 400 M_MISSING_PARAM, another value M_BAD_JSON. */
export const actionsBody = z.object({ actions: z.array(z.unknown()) });
