import { describe, expect, it } from 'vitest';
import type { StoredPushRule } from '../../storage/push/push-rules.js';
import { defaultPushRules } from './default-push-rules.js';
import { buildPushRuleset, findPushRule, isServerDefaultRuleId } from './push-ruleset.js';

const ME = '@me:alpha.test';

function stored(kind: string, ruleId: string, extra: Partial<StoredPushRule> = {}): StoredPushRule {
  return {
    kind,
    ruleId,
    position: 0,
    conditions: kind === 'override' || kind === 'underride' ? [] : null,
    pattern: kind === 'content' ? 'p' : null,
    actions: ['notify'],
    enabled: true,
    ...extra,
  };
}

describe('buildPushRuleset', () => {
  it('is the defaults when the user has no rules or changes', () => {
    expect(buildPushRuleset(ME, [], [])).toEqual(defaultPushRules(ME));
  });

  it("puts the user's rules before the defaults of their kind, the master rule first of all", () => {
    const ruleset = buildPushRuleset(
      ME,
      [
        stored('override', 'o1'),
        stored('override', 'o2', { position: 1 }),
        stored('underride', 'u1'),
        stored('content', 'c1', { pattern: 'cake', enabled: false }),
        stored('room', '!r:alpha.test', { actions: [] }),
        stored('sender', '@s:alpha.test'),
      ],
      [],
    );
    const ids = (rules: { rule_id: string }[]) => rules.map((rule) => rule.rule_id);
    expect(ids(ruleset.override).slice(0, 4)).toEqual([
      '.m.rule.master',
      'o1',
      'o2',
      '.m.rule.suppress_notices',
    ]);
    expect(ids(ruleset.underride)).toEqual(['u1', ...ids(defaultPushRules(ME).underride)]);
    // Each kind shows what it has: conditions, a pattern, or neither.
    expect(ruleset.override[1]).toEqual({
      rule_id: 'o1',
      default: false,
      enabled: true,
      actions: ['notify'],
      conditions: [],
    });
    expect(ruleset.content).toEqual([
      { rule_id: 'c1', default: false, enabled: false, actions: ['notify'], pattern: 'cake' },
    ]);
    expect(ruleset.room).toEqual([
      { rule_id: '!r:alpha.test', default: false, enabled: true, actions: [] },
    ]);
    expect(ruleset.sender).toEqual([
      { rule_id: '@s:alpha.test', default: false, enabled: true, actions: ['notify'] },
    ]);
  });

  it('applies changes to server-default rules, ignoring changes to rules that are gone', () => {
    const ruleset = buildPushRuleset(
      ME,
      [],
      [
        { kind: 'override', ruleId: '.m.rule.master', enabled: true, actions: undefined },
        { kind: 'underride', ruleId: '.m.rule.message', enabled: undefined, actions: [] },
        { kind: 'override', ruleId: '.m.rule.retired', enabled: false, actions: undefined },
      ],
    );
    expect(findPushRule(ruleset, 'override', '.m.rule.master')).toMatchObject({
      enabled: true,
      actions: [],
      default: true,
    });
    expect(findPushRule(ruleset, 'underride', '.m.rule.message')).toMatchObject({
      enabled: true,
      actions: [],
    });
    expect(findPushRule(ruleset, 'override', '.m.rule.retired')).toBeUndefined();
    expect(findPushRule(ruleset, 'underride', '.m.rule.master')).toBeUndefined();
  });

  it('server-default rule IDs start with a dot', () => {
    expect(isServerDefaultRuleId('.m.rule.master')).toBe(true);
    expect(isServerDefaultRuleId('mine')).toBe(false);
  });
});
