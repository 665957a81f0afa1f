import { describe, expect, it } from 'vitest';
import { defaultPushRules } from './default-push-rules.js';
import type { PushCondition, PushRule, PushRuleKind, PushRuleset } from './push-rule.js';
import {
  PushRuleEvaluator,
  highlightOf,
  parseDottedPath,
  type PushContext,
  type PushEvent,
  type PushPowerLevels,
} from './push-rule-evaluator.js';

const ME = '@me:alpha.test';
const ALICE = '@alice:alpha.test';
const ROOM = '!room:alpha.test';

/** Power levels as a map: everyone else has 0, `@room` needs 50 unless set. */
function powerLevels(users: Record<string, number>, notifications: Record<string, number> = {}) {
  return {
    userLevel: (userId: string) => users[userId] ?? 0,
    notificationLevel: (key: string) => notifications[key] ?? 50,
  } satisfies PushPowerLevels;
}

function context(overrides: Partial<PushContext> = {}): PushContext {
  return {
    userId: ME,
    memberCount: 5,
    displayName: 'Mina',
    powerLevels: powerLevels({ [ALICE]: 100 }),
    ...overrides,
  };
}

function message(content: Record<string, unknown>, extra: Record<string, unknown> = {}): PushEvent {
  return {
    type: 'm.room.message',
    sender: ALICE,
    room_id: ROOM,
    content: { msgtype: 'm.text', body: 'hello', ...content },
    ...extra,
  };
}

function stateEvent(type: string, stateKey: string, content: Record<string, unknown>): PushEvent {
  return { type, state_key: stateKey, sender: ALICE, room_id: ROOM, content };
}

const defaults = new PushRuleEvaluator(defaultPushRules(ME));
const ruleOf = (event: PushEvent, ctx = context(), evaluator = defaults) =>
  evaluator.evaluate(event, ctx).rule?.ruleId;

/** The default ruleset with some rules changed. */
function changedDefaults(
  change: (rule: PushRule, kind: PushRuleKind) => PushRule,
): PushRuleEvaluator {
  const ruleset = defaultPushRules(ME);
  const changed = Object.fromEntries(
    Object.entries(ruleset).map(([kind, rules]) => [
      kind,
      rules.map((rule) => change(rule, kind as PushRuleKind)),
    ]),
  ) as unknown as PushRuleset;
  return new PushRuleEvaluator(changed);
}

/** A ruleset with one override rule and nothing else. */
function onlyOverride(conditions: PushCondition[], actions: PushRule['actions'] = ['notify']) {
  const empty: PushRuleset = { override: [], content: [], room: [], sender: [], underride: [] };
  return new PushRuleEvaluator({
    ...empty,
    override: [{ rule_id: 'test', default: false, enabled: true, conditions, actions }],
  });
}

describe('the default rules', () => {
  it('a plain message notifies without highlight (.m.rule.message)', () => {
    const outcome = defaults.evaluate(message({}), context());
    expect(outcome).toMatchObject({ notify: true, highlight: false });
    expect(outcome.rule).toEqual({ kind: 'underride', ruleId: '.m.rule.message' });
  });

  it('in a room of two, messages and encrypted events are one-to-one rules with sound', () => {
    const two = context({ memberCount: 2 });
    expect(ruleOf(message({}), two)).toBe('.m.rule.room_one_to_one');
    const encrypted = { type: 'm.room.encrypted', sender: ALICE, room_id: ROOM, content: {} };
    expect(ruleOf(encrypted, two)).toBe('.m.rule.encrypted_room_one_to_one');
    expect(defaults.evaluate(encrypted, two).actions).toContainEqual({
      set_tweak: 'sound',
      value: 'default',
    });
    // In a larger room, the group rules.
    expect(ruleOf(encrypted)).toBe('.m.rule.encrypted');
    expect(defaults.evaluate(encrypted, context()).notify).toBe(true);
  });

  it('a mention in m.mentions highlights (.m.rule.is_user_mention)', () => {
    const mention = message({ body: 'hi', 'm.mentions': { user_ids: [ME] } });
    const outcome = defaults.evaluate(mention, context());
    expect(outcome.rule?.ruleId).toBe('.m.rule.is_user_mention');
    expect(outcome).toMatchObject({ notify: true, highlight: true });
    // Someone else's mention, or the user ID only in the body, is a plain message.
    expect(ruleOf(message({ 'm.mentions': { user_ids: ['@other:alpha.test'] } }))).toBe(
      '.m.rule.message',
    );
    expect(ruleOf(message({ body: `hey ${ME}`, 'm.mentions': {} }))).toBe('.m.rule.message');
    // The key's escaped dot is a dot in the property name, not a path step.
    expect(ruleOf(message({ m: { mentions: { user_ids: [ME] } } }))).toBe('.m.rule.message');
  });

  it('@room highlights when the sender may notify the room (.m.rule.is_room_mention)', () => {
    const atRoom = (sender: string) => ({ ...message({ 'm.mentions': { room: true } }), sender });
    expect(defaults.evaluate(atRoom(ALICE), context())).toMatchObject({
      notify: true,
      highlight: true,
      rule: { ruleId: '.m.rule.is_room_mention' },
    });
    // Below notifications.room (default 50): an ordinary message.
    expect(ruleOf(atRoom('@bob:alpha.test'))).toBe('.m.rule.message');
    const lowered = context({ powerLevels: powerLevels({}, { room: 0 }) });
    expect(ruleOf(atRoom('@bob:alpha.test'), lowered)).toBe('.m.rule.is_room_mention');
    // `room: "true"` is not `true`.
    expect(ruleOf(message({ 'm.mentions': { room: 'true' } }))).toBe('.m.rule.message');
  });

  it('notices do not notify (.m.rule.suppress_notices)', () => {
    const outcome = defaults.evaluate(message({ msgtype: 'm.notice' }), context());
    expect(outcome).toMatchObject({ notify: false, highlight: false, actions: [] });
    expect(outcome.rule?.ruleId).toBe('.m.rule.suppress_notices');
    // A notice mentioning the user is still only a notice: override order decides.
    expect(ruleOf(message({ msgtype: 'm.notice', 'm.mentions': { user_ids: [ME] } }))).toBe(
      '.m.rule.suppress_notices',
    );
  });

  it('member events are silent, except an invite for the user (.m.rule.invite_for_me)', () => {
    const join = stateEvent('m.room.member', ALICE, { membership: 'join' });
    expect(defaults.evaluate(join, context())).toMatchObject({
      notify: false,
      rule: { ruleId: '.m.rule.member_event' },
    });
    const invite = stateEvent('m.room.member', ME, { membership: 'invite' });
    expect(defaults.evaluate(invite, context())).toMatchObject({
      notify: true,
      highlight: false,
      rule: { ruleId: '.m.rule.invite_for_me' },
    });
    const otherInvite = stateEvent('m.room.member', '@bob:alpha.test', { membership: 'invite' });
    expect(ruleOf(otherInvite)).toBe('.m.rule.member_event');
  });

  it('a tombstone highlights (.m.rule.tombstone), only as a state event', () => {
    const tombstone = stateEvent('m.room.tombstone', '', { body: 'moved', replacement_room: '!n' });
    expect(defaults.evaluate(tombstone, context())).toMatchObject({
      notify: true,
      highlight: true,
      rule: { ruleId: '.m.rule.tombstone' },
    });
    const notState = { type: 'm.room.tombstone', sender: ALICE, room_id: ROOM, content: {} };
    expect(defaults.evaluate(notState, context()).notify).toBe(false);
  });

  it('reactions, server ACLs and edits are silent', () => {
    const reaction = { type: 'm.reaction', sender: ALICE, room_id: ROOM, content: {} };
    expect(ruleOf(reaction)).toBe('.m.rule.reaction');
    expect(defaults.evaluate(reaction, context()).notify).toBe(false);
    const acl = stateEvent('m.room.server_acl', '', { allow: ['*'] });
    expect(ruleOf(acl)).toBe('.m.rule.room.server_acl');
    const edit = message({ 'm.relates_to': { rel_type: 'm.replace', event_id: '$x' } });
    expect(ruleOf(edit)).toBe('.m.rule.suppress_edits');
    expect(defaults.evaluate(edit, context()).notify).toBe(false);
  });

  it('calls ring (.m.rule.call); other events match nothing', () => {
    const call = { type: 'm.call.invite', sender: ALICE, room_id: ROOM, content: {} };
    expect(defaults.evaluate(call, context())).toMatchObject({
      notify: true,
      actions: ['notify', { set_tweak: 'sound', value: 'ring' }],
    });
    const topic = stateEvent('m.room.topic', '', { topic: 'x' });
    expect(defaults.evaluate(topic, context())).toEqual({
      notify: false,
      highlight: false,
      actions: [],
    });
  });

  it("the user's own events never notify", () => {
    const own = { ...message({ 'm.mentions': { user_ids: [ME] } }), sender: ME };
    expect(defaults.evaluate(own, context())).toEqual({
      notify: false,
      highlight: false,
      actions: [],
    });
  });

  it('the master rule, once enabled, silences everything', () => {
    const master = changedDefaults((rule) =>
      rule.rule_id === '.m.rule.master' ? { ...rule, enabled: true } : rule,
    );
    const mention = message({ 'm.mentions': { user_ids: [ME] } });
    expect(master.evaluate(mention, context())).toMatchObject({
      notify: false,
      rule: { ruleId: '.m.rule.master' },
    });
  });

  it('a disabled rule is skipped: the next matching rule decides', () => {
    const noMessage = changedDefaults((rule) =>
      rule.rule_id === '.m.rule.message' ? { ...rule, enabled: false } : rule,
    );
    expect(noMessage.evaluate(message({}), context()).notify).toBe(false);
    expect(ruleOf(message({}), context({ memberCount: 2 }), noMessage)).toBe(
      '.m.rule.room_one_to_one',
    );
    const noMention = changedDefaults((rule) =>
      rule.rule_id === '.m.rule.is_user_mention' ? { ...rule, enabled: false } : rule,
    );
    expect(
      noMention.evaluate(message({ 'm.mentions': { user_ids: [ME] } }), context()),
    ).toMatchObject({ notify: true, highlight: false, rule: { ruleId: '.m.rule.message' } });
  });
});

describe('rule kinds and their order', () => {
  const base = defaultPushRules(ME);
  const own = (ruleId: string, actions: PushRule['actions'], extra: Partial<PushRule> = {}) => ({
    rule_id: ruleId,
    default: false,
    enabled: true,
    actions,
    ...extra,
  });

  it('override, content, room, sender, underride: the first matching kind wins', () => {
    const evaluator = new PushRuleEvaluator({
      override: base.override,
      content: [own('cake', ['notify', { set_tweak: 'highlight' }], { pattern: 'cake' })],
      room: [own(ROOM, [])],
      sender: [own(ALICE, ['notify', { set_tweak: 'sound', value: 'bing' }])],
      underride: base.underride,
    });
    expect(evaluator.evaluate(message({ body: 'Cake time!' }), context())).toMatchObject({
      notify: true,
      highlight: true,
      rule: { kind: 'content', ruleId: 'cake' },
    });
    // Not cake: the room rule (no actions) silences the room.
    expect(evaluator.evaluate(message({ body: 'cakes' }), context())).toMatchObject({
      notify: false,
      rule: { kind: 'room', ruleId: ROOM },
    });
    // Another room: the sender rule.
    const elsewhere = { ...message({}), room_id: '!other:alpha.test' };
    expect(evaluator.evaluate(elsewhere, context())).toMatchObject({
      notify: true,
      rule: { kind: 'sender', ruleId: ALICE },
    });
    // Another sender in another room: the default underride.
    expect(ruleOf({ ...elsewhere, sender: '@bob:alpha.test' }, context(), evaluator)).toBe(
      '.m.rule.message',
    );
  });

  it('within a kind, the first rule in order wins', () => {
    const evaluator = new PushRuleEvaluator({
      ...base,
      content: [own('tea', [], { pattern: 'tea' }), own('time', ['notify'], { pattern: 'time' })],
    });
    expect(ruleOf(message({ body: "It's time for tea" }), context(), evaluator)).toBe('tea');
  });

  it('a rule without conditions matches every event', () => {
    const evaluator = onlyOverride([]);
    expect(evaluator.evaluate(stateEvent('m.room.name', '', {}), context()).notify).toBe(true);
  });
});

describe('conditions', () => {
  const matches = (condition: PushCondition, event: PushEvent, ctx = context()) =>
    onlyOverride([condition]).evaluate(event, ctx).notify;

  it('event_match: glob, case-insensitive, whole value, strings only', () => {
    const topic = stateEvent('m.room.topic', '', { topic: 'Lunch plans' });
    const lunch = { kind: 'event_match', key: 'content.topic', pattern: 'lunc?*' } as const;
    expect(matches(lunch, topic)).toBe(true);
    expect(matches(lunch, stateEvent('m.room.topic', '', { topic: ' lunch' }))).toBe(false);
    expect(matches(lunch, stateEvent('m.room.topic', '', { topic: null }))).toBe(false);
    // An absent or non-string property never matches, not even `*`.
    const any = { kind: 'event_match', key: 'content.topic', pattern: '*' } as const;
    expect(matches(any, stateEvent('m.room.topic', '', {}))).toBe(false);
    expect(matches(any, stateEvent('m.room.topic', '', { topic: 5 }))).toBe(false);
    expect(matches(any, stateEvent('m.room.topic', '', { topic: '' }))).toBe(true);
    // No implicit state_key: a message event has none, so `*` on it fails.
    expect(matches({ kind: 'event_match', key: 'state_key', pattern: '*' }, message({}))).toBe(
      false,
    );
  });

  it('event_match on content.body: between word boundaries', () => {
    const beer = { kind: 'event_match', key: 'content.body', pattern: 'beer' } as const;
    expect(matches(beer, message({ body: 'Time for a BEER?' }))).toBe(true);
    expect(matches(beer, message({ body: 'beers' }))).toBe(false);
  });

  it('dotted keys: escaped dots and backslashes name properties', () => {
    expect(parseDottedPath('content.body')).toEqual(['content', 'body']);
    expect(parseDottedPath('content.m\\.relates_to.rel_type')).toEqual([
      'content',
      'm.relates_to',
      'rel_type',
    ]);
    expect(parseDottedPath('content.m\\\\foo')).toEqual(['content', 'm\\foo']);
    expect(parseDottedPath('content.a\\xb')).toEqual(['content', 'a\\xb']);
    const federate = { kind: 'event_match', key: 'content.m\\.federate', pattern: 'no' } as const;
    expect(matches(federate, stateEvent('m.room.create', '', { 'm.federate': 'no' }))).toBe(true);
    const slash = { kind: 'event_match', key: 'content.m\\\\foo', pattern: 'x' } as const;
    expect(matches(slash, message({ 'm\\foo': 'x' }))).toBe(true);
    // Only own properties: no path into the prototype.
    const proto = { kind: 'event_match', key: 'content.constructor.name', pattern: '*' } as const;
    expect(matches(proto, message({}))).toBe(false);
  });

  it('event_property_is: exact scalars, no type casts', () => {
    const create = (federate: unknown) =>
      stateEvent('m.room.create', '', { 'm.federate': federate });
    const isTrue = { kind: 'event_property_is', key: 'content.m\\.federate', value: true } as const;
    expect(matches(isTrue, create(true))).toBe(true);
    expect(matches(isTrue, create('true'))).toBe(false);
    expect(matches(isTrue, create(1))).toBe(false);
    const isNull = { kind: 'event_property_is', key: 'content.m\\.federate', value: null } as const;
    expect(matches(isNull, create(null))).toBe(true);
    expect(matches(isNull, stateEvent('m.room.create', '', {}))).toBe(false);
    const isSeven = { kind: 'event_property_is', key: 'content.n', value: 7 } as const;
    expect(matches(isSeven, message({ n: 7 }))).toBe(true);
    expect(matches(isSeven, message({ n: 7.5 }))).toBe(false);
    expect(matches(isSeven, message({ n: [7] }))).toBe(false);
    const isCaseSensitive = {
      kind: 'event_property_is',
      key: 'content.body',
      value: 'Hi',
    } as const;
    expect(matches(isCaseSensitive, message({ body: 'hi' }))).toBe(false);
  });

  it('event_property_contains: an array holding the exact value', () => {
    const aliases = (list: unknown) =>
      stateEvent('m.room.canonical_alias', '', { alias: '#a:x', alt_aliases: list });
    const condition = {
      kind: 'event_property_contains',
      key: 'content.alt_aliases',
      value: '#myroom:example.com',
    } as const;
    expect(matches(condition, aliases(['#somewhere:example.org', '#myroom:example.com']))).toBe(
      true,
    );
    expect(matches(condition, aliases([':example.com']))).toBe(false);
    expect(matches(condition, aliases('#myroom:example.com'))).toBe(false);
    expect(matches(condition, aliases([{ a: '#myroom:example.com' }]))).toBe(false);
  });

  it('contains_display_name: the name between word boundaries, case-insensitively', () => {
    const condition = { kind: 'contains_display_name' } as const;
    expect(matches(condition, message({ body: 'hey MINA, lunch?' }))).toBe(true);
    expect(matches(condition, message({ body: 'Minakshi is here' }))).toBe(false);
    expect(matches(condition, message({ body: 'hey mina' }), context({ displayName: null }))).toBe(
      false,
    );
    expect(matches(condition, message({ body: 'hey' }), context({ displayName: '' }))).toBe(false);
    const dotted = context({ displayName: 'Dr. Who?' });
    expect(matches(condition, message({ body: 'ask dr. who? now' }), dotted)).toBe(true);
    expect(matches(condition, message({ body: 'ask dr. whom now' }), dotted)).toBe(false);
  });

  it('room_member_count: ==, <, >, <=, >= and a bare number', () => {
    const count = (is: string, memberCount: number) =>
      matches({ kind: 'room_member_count', is }, message({}), context({ memberCount }));
    expect(count('2', 2)).toBe(true);
    expect(count('2', 3)).toBe(false);
    expect(count('==2', 2)).toBe(true);
    expect(count('<10', 9)).toBe(true);
    expect(count('<10', 10)).toBe(false);
    expect(count('>10', 11)).toBe(true);
    expect(count('>10', 10)).toBe(false);
    expect(count('<=10', 10)).toBe(true);
    expect(count('>=10', 10)).toBe(true);
    expect(count('>=10', 9)).toBe(false);
    // Malformed: never matches.
    expect(count('=<2', 2)).toBe(false);
    expect(count('two', 2)).toBe(false);
  });

  it('sender_notification_permission: the sender needs notifications.<key>', () => {
    const condition = { kind: 'sender_notification_permission', key: 'room' } as const;
    const levels = powerLevels({ [ALICE]: 50, '@bob:alpha.test': 49 });
    expect(matches(condition, message({}), context({ powerLevels: levels }))).toBe(true);
    const bob = { ...message({}), sender: '@bob:alpha.test' };
    expect(matches(condition, bob, context({ powerLevels: levels }))).toBe(false);
    const custom = { kind: 'sender_notification_permission', key: 'custom' } as const;
    const strict = powerLevels({ [ALICE]: 50 }, { custom: 75 });
    expect(matches(custom, message({}), context({ powerLevels: strict }))).toBe(false);
  });

  it('unknown or malformed conditions never match', () => {
    expect(matches({ kind: 'org.example.future', key: 'type' }, message({}))).toBe(false);
    expect(matches({ kind: 'event_match', key: 'type' } as PushCondition, message({}))).toBe(false);
    // All conditions must hold.
    const both = onlyOverride([
      { kind: 'event_match', key: 'type', pattern: 'm.room.message' },
      { kind: 'org.example.future' },
    ]);
    expect(both.evaluate(message({}), context()).notify).toBe(false);
  });
});

describe('highlightOf', () => {
  it('is the highlight tweak: no value means true; absent means false', () => {
    expect(highlightOf(['notify', { set_tweak: 'highlight' }])).toBe(true);
    expect(highlightOf(['notify', { set_tweak: 'highlight', value: true }])).toBe(true);
    expect(highlightOf(['notify', { set_tweak: 'highlight', value: false }])).toBe(false);
    expect(highlightOf(['notify', { set_tweak: 'sound', value: 'default' }])).toBe(false);
    expect(highlightOf([])).toBe(false);
  });
});
