import { afterEach, describe, expect, it } from 'vitest';
import {
  openAccountServices,
  type TestAccountServices,
} from '../../../test/helpers/account-services.js';
import { MatrixError } from '../../core/errors.js';
import { selectUserPushRules } from '../../storage/push/push-rules.js';
import type { AccountDataChange } from '../account-data/account-data.js';
import { defaultPushRules } from './default-push-rules.js';

const opened: TestAccountServices[] = [];
afterEach(async () => {
  while (opened.length > 0) await opened.pop()?.close();
});

async function setup() {
  const t = await openAccountServices();
  opened.push(t);
  const { userId } = await t.services.registration.createAccount({
    localpart: 'alice',
    isAdmin: false,
    isGuest: false,
  });
  const announced: AccountDataChange[] = [];
  t.services.accountData.changed.add((change) => void announced.push(change));
  return { ...t, pushRules: t.services.pushRules, userId, announced };
}

async function errorOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof MatrixError) return `${error.status} ${error.errcode}`;
    throw error;
  }
  return 'no error';
}

const contentRule = (pattern: string) => ({ actions: ['notify'], pattern });

describe('PushRules', () => {
  it('places new rules first, or before / after a rule; replacing keeps the place', async () => {
    const { pushRules, userId } = await setup();
    const order = async () => (await pushRules.ruleset(userId)).content.map((r) => r.rule_id);
    await pushRules.putRule(userId, 'content', 'a', contentRule('a'));
    await pushRules.putRule(userId, 'content', 'b', contentRule('b'));
    expect(await order()).toEqual(['b', 'a']);
    await pushRules.putRule(userId, 'content', 'c', contentRule('c'), { after: 'a' });
    expect(await order()).toEqual(['b', 'a', 'c']);
    await pushRules.putRule(userId, 'content', 'd', contentRule('d'), { before: 'a' });
    expect(await order()).toEqual(['b', 'd', 'a', 'c']);
    // Both: `before` decides.
    await pushRules.putRule(userId, 'content', 'e', contentRule('e'), { after: 'c', before: 'b' });
    expect(await order()).toEqual(['e', 'b', 'd', 'a', 'c']);
    // Replacing without a placement keeps the place; with one, moves it.
    await pushRules.putRule(userId, 'content', 'a', contentRule('A*'));
    expect(await order()).toEqual(['e', 'b', 'd', 'a', 'c']);
    expect(await pushRules.getRule(userId, 'content', 'a')).toEqual({
      rule_id: 'a',
      default: false,
      enabled: true,
      actions: ['notify'],
      pattern: 'A*',
    });
    await pushRules.putRule(userId, 'content', 'a', contentRule('a'), { after: 'c' });
    expect(await order()).toEqual(['e', 'b', 'd', 'c', 'a']);
  });

  it('a replaced rule stays disabled; a new one is enabled', async () => {
    const { pushRules, userId } = await setup();
    await pushRules.putRule(userId, 'content', 'a', contentRule('a'));
    await pushRules.setEnabled(userId, 'content', 'a', false);
    await pushRules.putRule(userId, 'content', 'a', contentRule('b'));
    expect(await pushRules.getRule(userId, 'content', 'a')).toMatchObject({
      enabled: false,
      pattern: 'b',
    });
  });

  it('refuses bad placements and changes nothing then', async () => {
    const { pushRules, userId, announced, db } = await setup();
    await pushRules.putRule(userId, 'override', 'mine', { actions: [] });
    announced.length = 0;
    const put = (placement: { before?: string; after?: string }) =>
      errorOf(pushRules.putRule(userId, 'override', 'new', { actions: [] }, placement));
    expect(await put({ before: 'unknown' })).toBe('400 M_INVALID_PARAM');
    expect(await put({ after: 'mine', before: 'unknown' })).toBe('400 M_INVALID_PARAM');
    expect(await put({ after: '.m.rule.master' })).toBe('400 M_INVALID_PARAM');
    expect(await put({ before: 'new' })).toBe('400 M_INVALID_PARAM');
    // A rule of another kind is unknown here.
    await pushRules.putRule(userId, 'underride', 'elsewhere', { actions: [] });
    announced.length = 0;
    expect(await put({ before: 'elsewhere' })).toBe('400 M_INVALID_PARAM');
    const stored = await db.read((d) => selectUserPushRules(d, userId));
    expect(stored.map((r) => r.ruleId).sort()).toEqual(['elsewhere', 'mine']);
    expect(announced).toEqual([]);
  });

  it('writes every change as m.push_rules account data and announces it', async () => {
    const { pushRules, userId, announced, services } = await setup();
    await pushRules.putRule(userId, 'room', '!r:alpha.test', { actions: [] });
    await pushRules.setEnabled(userId, 'override', '.m.rule.master', true);
    await pushRules.setActions(userId, 'underride', '.m.rule.message', ['notify', 'dont_notify']);
    await pushRules.deleteRule(userId, 'room', '!r:alpha.test');
    expect(announced.map((change) => [change.type, change.roomId])).toEqual([
      ['m.push_rules', null],
      ['m.push_rules', null],
      ['m.push_rules', null],
      ['m.push_rules', null],
    ]);
    const content = await services.accountData.get(userId, null, 'm.push_rules');
    const expected = defaultPushRules(userId);
    expect(content).toEqual({
      global: {
        ...expected,
        override: expected.override.map((rule) =>
          rule.rule_id === '.m.rule.master' ? { ...rule, enabled: true } : rule,
        ),
        underride: expected.underride.map((rule) =>
          rule.rule_id === '.m.rule.message' ? { ...rule, actions: ['notify'] } : rule,
        ),
      },
    });
    expect(await pushRules.ruleset(userId)).toEqual(content['global']);
  });

  it('server-default rules: enabled and actions change, deleting and creating do not', async () => {
    const { pushRules, userId } = await setup();
    expect(await errorOf(pushRules.deleteRule(userId, 'override', '.m.rule.master'))).toBe(
      '400 M_INVALID_PARAM',
    );
    expect(
      await errorOf(pushRules.putRule(userId, 'override', '.m.rule.master', { actions: [] })),
    ).toBe('400 M_INVALID_PARAM');
    // In the wrong kind, or unknown: not found.
    expect(await errorOf(pushRules.setEnabled(userId, 'underride', '.m.rule.master', true))).toBe(
      '404 M_NOT_FOUND',
    );
    expect(await errorOf(pushRules.setActions(userId, 'override', '.m.rule.nope', []))).toBe(
      '404 M_NOT_FOUND',
    );
    expect(await errorOf(pushRules.deleteRule(userId, 'override', '.m.rule.nope'))).toBe(
      '404 M_NOT_FOUND',
    );
    expect(await errorOf(pushRules.deleteRule(userId, 'override', 'nope'))).toBe('404 M_NOT_FOUND');
    expect(await errorOf(pushRules.setEnabled(userId, 'content', 'nope', false))).toBe(
      '404 M_NOT_FOUND',
    );
    await pushRules.setActions(userId, 'override', '.m.rule.suppress_notices', ['notify']);
    await pushRules.setEnabled(userId, 'override', '.m.rule.suppress_notices', false);
    expect(await pushRules.getRule(userId, 'override', '.m.rule.suppress_notices')).toMatchObject({
      default: true,
      enabled: false,
      actions: ['notify'],
    });
  });

  it('serialises concurrent changes of one user: every rule gets its own place', async () => {
    const { pushRules, userId } = await setup();
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        pushRules.putRule(userId, 'content', `r${i}`, contentRule(`p${i}`)),
      ),
    );
    const stored = await opened[0]?.db.read((d) => selectUserPushRules(d, userId));
    expect(new Set(stored?.map((r) => r.position)).size).toBe(8);
    expect((await pushRules.ruleset(userId)).content).toHaveLength(8);
  });

  it("forgets a deactivated user's rules", async () => {
    const { pushRules, userId, services, db } = await setup();
    await pushRules.putRule(userId, 'content', 'a', contentRule('a'));
    await pushRules.setEnabled(userId, 'override', '.m.rule.master', true);
    // What `Users.deactivate` announces once the account is deactivated.
    await services.users.deactivated.emit({ userId });
    expect(await db.read((d) => selectUserPushRules(d, userId))).toEqual([]);
    expect(await pushRules.ruleset(userId)).toEqual(defaultPushRules(userId));
  });
});
