import { describe, expect, it } from 'vitest';
import { MatrixError } from '../../core/errors.js';
import {
  checkUserRuleId,
  parseActions,
  parseConditions,
  parseRuleBody,
} from './push-rule-validation.js';

function errcodeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof MatrixError) return `${error.status} ${error.errcode}`;
    throw error;
  }
  return undefined;
}

describe('checkUserRuleId', () => {
  it('refuses server-default IDs, slashes and backslashes', () => {
    expect(errcodeOf(() => checkUserRuleId('override', '.m.rule.mine'))).toBe(
      '400 M_INVALID_PARAM',
    );
    expect(errcodeOf(() => checkUserRuleId('content', 'a/b'))).toBe('400 M_INVALID_PARAM');
    expect(errcodeOf(() => checkUserRuleId('content', 'a\\b'))).toBe('400 M_INVALID_PARAM');
    expect(errcodeOf(() => checkUserRuleId('content', 'nocake'))).toBeUndefined();
  });

  it('room and sender rules are named after their room or user', () => {
    expect(errcodeOf(() => checkUserRuleId('room', '!abc:alpha.test'))).toBeUndefined();
    expect(errcodeOf(() => checkUserRuleId('room', 'not-a-room'))).toBe('400 M_INVALID_PARAM');
    expect(errcodeOf(() => checkUserRuleId('sender', '@bob:alpha.test'))).toBeUndefined();
    expect(errcodeOf(() => checkUserRuleId('sender', '!abc:alpha.test'))).toBe(
      '400 M_INVALID_PARAM',
    );
  });
});

describe('parseActions', () => {
  it('keeps notify and tweaks as sent, drops the historical actions', () => {
    expect(
      parseActions([
        'notify',
        'dont_notify',
        'coalesce',
        { set_tweak: 'sound', value: 'bing' },
        { set_tweak: 'org.example.light', value: { colour: 'red' } },
      ]),
    ).toEqual([
      'notify',
      { set_tweak: 'sound', value: 'bing' },
      { set_tweak: 'org.example.light', value: { colour: 'red' } },
    ]);
    expect(parseActions(['dont_notify'])).toEqual([]);
  });

  it('refuses anything else with M_BAD_JSON', () => {
    expect(errcodeOf(() => parseActions('notify'))).toBe('400 M_BAD_JSON');
    expect(errcodeOf(() => parseActions(['shout']))).toBe('400 M_BAD_JSON');
    expect(errcodeOf(() => parseActions([{ value: 'x' }]))).toBe('400 M_BAD_JSON');
    expect(errcodeOf(() => parseActions([{ set_tweak: 5 }]))).toBe('400 M_BAD_JSON');
    expect(errcodeOf(() => parseActions([null]))).toBe('400 M_BAD_JSON');
  });
});

describe('parseConditions', () => {
  it('checks the parameters of the kinds the spec defines, keeps unknown kinds', () => {
    const valid = [
      { kind: 'event_match', key: 'content.body', pattern: 'beer' },
      { kind: 'event_property_is', key: 'content.m\\.federate', value: null },
      { kind: 'event_property_contains', key: 'content.list', value: 3 },
      { kind: 'room_member_count', is: '<=10' },
      { kind: 'sender_notification_permission', key: 'room' },
      { kind: 'contains_display_name' },
      { kind: 'org.example.future', anything: [1, 2] },
    ];
    expect(parseConditions(valid)).toEqual(valid);
  });

  it.each([
    ['not a list', { kind: 'event_match' }],
    ['no kind', [{ key: 'type', pattern: 'x' }]],
    ['kind not a string', [{ kind: 5 }]],
    ['event_match without pattern', [{ kind: 'event_match', key: 'type' }]],
    ['event_match with a non-string key', [{ kind: 'event_match', key: 1, pattern: 'x' }]],
    ['event_property_is without value', [{ kind: 'event_property_is', key: 'type' }]],
    [
      'event_property_is with a compound value',
      [{ kind: 'event_property_is', key: 'k', value: [] }],
    ],
    ['event_property_is with a float', [{ kind: 'event_property_is', key: 'k', value: 1.5 }]],
    ['room_member_count with a bad is', [{ kind: 'room_member_count', is: 'lots' }]],
    ['room_member_count with a number', [{ kind: 'room_member_count', is: 2 }]],
    ['sender_notification_permission without key', [{ kind: 'sender_notification_permission' }]],
  ])('refuses %s with M_BAD_JSON', (_what, conditions) => {
    expect(errcodeOf(() => parseConditions(conditions))).toBe('400 M_BAD_JSON');
  });
});

describe('parseRuleBody', () => {
  it('keeps what each kind has', () => {
    const body = {
      actions: ['notify'],
      conditions: [{ kind: 'event_match', key: 'type', pattern: 'm.room.message' }],
      pattern: 'cake',
    };
    expect(parseRuleBody('override', body)).toEqual({
      conditions: body.conditions,
      pattern: null,
      actions: ['notify'],
    });
    expect(parseRuleBody('underride', { actions: [] })).toEqual({
      conditions: [],
      pattern: null,
      actions: [],
    });
    expect(parseRuleBody('content', body)).toEqual({
      conditions: null,
      pattern: 'cake',
      actions: ['notify'],
    });
    expect(parseRuleBody('room', body)).toEqual({
      conditions: null,
      pattern: null,
      actions: ['notify'],
    });
    expect(parseRuleBody('sender', body)).toEqual({
      conditions: null,
      pattern: null,
      actions: ['notify'],
    });
  });

  it('a content rule needs a pattern (M_MISSING_PARAM)', () => {
    expect(errcodeOf(() => parseRuleBody('content', { actions: [] }))).toBe('400 M_MISSING_PARAM');
  });
});
