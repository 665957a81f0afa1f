/**
 * A user's push ruleset as clients see it and the evaluator reads it: the server-default rules
 * with the user's changes to them, and the user's own rules, each kind in evaluation order.
 *
 * Server-default rules come after the user's own rules of their kind, except `.m.rule.master`,
 * which comes before everything (spec "Predefined Rules"); Synapse orders them the same way.
 */
import type { StoredPushRule, StoredPushRuleOverride } from '../../storage/push/push-rules.js';
import { defaultPushRules } from './default-push-rules.js';
import {
  PUSH_RULE_KINDS,
  type PushAction,
  type PushCondition,
  type PushRule,
  type PushRuleKind,
  type PushRuleset,
} from './push-rule.js';

const MASTER_RULE_ID = '.m.rule.master';

/** Whether a rule ID names a server-default rule (they all start with a dot). */
export function isServerDefaultRuleId(ruleId: string): boolean {
  return ruleId.startsWith('.');
}

/** Merges the defaults, the user's changes to them and the user's own rules. */
export function buildPushRuleset(
  userId: string,
  ownRules: readonly StoredPushRule[],
  overrides: readonly StoredPushRuleOverride[],
): PushRuleset {
  const defaults = defaultPushRules(userId);
  const changes = new Map(overrides.map((change) => [`${change.kind} ${change.ruleId}`, change]));
  const withChanges = (kind: PushRuleKind): PushRule[] =>
    defaults[kind].map((rule) => {
      const change = changes.get(`${kind} ${rule.rule_id}`);
      if (change === undefined) return rule;
      return {
        ...rule,
        enabled: change.enabled ?? rule.enabled,
        actions: (change.actions as PushAction[] | undefined) ?? rule.actions,
      };
    });
  const own = (kind: PushRuleKind): PushRule[] =>
    ownRules.filter((rule) => rule.kind === kind).map((rule) => toPushRule(kind, rule));

  const defaultOverrides = withChanges('override');
  const master = defaultOverrides.filter((rule) => rule.rule_id === MASTER_RULE_ID);
  const otherOverrides = defaultOverrides.filter((rule) => rule.rule_id !== MASTER_RULE_ID);
  return {
    override: [...master, ...own('override'), ...otherOverrides],
    content: [...own('content'), ...withChanges('content')],
    room: [...own('room'), ...withChanges('room')],
    sender: [...own('sender'), ...withChanges('sender')],
    underride: [...own('underride'), ...withChanges('underride')],
  };
}

/** A stored rule as clients see it: conditions, a pattern or neither, by kind. */
function toPushRule(kind: PushRuleKind, stored: StoredPushRule): PushRule {
  const base = {
    rule_id: stored.ruleId,
    default: false,
    enabled: stored.enabled,
    actions: stored.actions as PushAction[],
  };
  if (kind === 'override' || kind === 'underride') {
    return { ...base, conditions: (stored.conditions ?? []) as PushCondition[] };
  }
  if (kind === 'content') return { ...base, pattern: stored.pattern ?? '' };
  return base;
}

/** The rule of `kind` with this ID, if the ruleset has it. */
export function findPushRule(
  ruleset: PushRuleset,
  kind: PushRuleKind,
  ruleId: string,
): PushRule | undefined {
  return ruleset[kind].find((rule) => rule.rule_id === ruleId);
}

/** Whether `kind` is one of the five rule kinds. */
export function isPushRuleKind(kind: string): kind is PushRuleKind {
  return (PUSH_RULE_KINDS as readonly string[]).includes(kind);
}
