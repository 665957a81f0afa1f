/**
 * The server-default push rules of the client-server spec ("Predefined Rules", v1.17): the
 * override rules, then the underride rules, in the spec's order. Since v1.17 the spec defines no
 * default content rules (the legacy ones matching the user's name in `body` were removed), so
 * `content` is empty; `sender` and `room` hold only user-defined rules. How users' own rules and
 * changes mix with these: `push-ruleset.ts`.
 */

import type { PushAction, PushCondition, PushRule, PushRuleset } from './push-rule.js';

const SOUND_DEFAULT = { set_tweak: 'sound', value: 'default' } as const;
const HIGHLIGHT = { set_tweak: 'highlight' } as const;

function rule(
  ruleId: string,
  conditions: PushCondition[],
  actions: PushAction[],
  enabled = true,
): PushRule {
  return { rule_id: ruleId, default: true, enabled, conditions, actions };
}

function eventMatch(key: string, pattern: string): PushCondition {
  return { kind: 'event_match', key, pattern };
}

/**
 * The server-default ruleset of `userId`, its rules in priority order. Each call builds fresh
 * objects, so callers may change what they get.
 */
export function defaultPushRules(userId: string): PushRuleset {
  return {
    override: [
      rule('.m.rule.master', [], [], false),
      rule('.m.rule.suppress_notices', [eventMatch('content.msgtype', 'm.notice')], []),
      rule(
        '.m.rule.invite_for_me',
        [
          eventMatch('type', 'm.room.member'),
          eventMatch('content.membership', 'invite'),
          eventMatch('state_key', userId),
        ],
        ['notify', { ...SOUND_DEFAULT }],
      ),
      rule('.m.rule.member_event', [eventMatch('type', 'm.room.member')], []),
      rule(
        '.m.rule.is_user_mention',
        [
          {
            kind: 'event_property_contains',
            key: 'content.m\\.mentions.user_ids',
            value: userId,
          },
        ],
        ['notify', { ...SOUND_DEFAULT }, { ...HIGHLIGHT }],
      ),
      rule(
        '.m.rule.is_room_mention',
        [
          { kind: 'event_property_is', key: 'content.m\\.mentions.room', value: true },
          { kind: 'sender_notification_permission', key: 'room' },
        ],
        ['notify', { ...HIGHLIGHT }],
      ),
      rule(
        '.m.rule.tombstone',
        [eventMatch('type', 'm.room.tombstone'), eventMatch('state_key', '')],
        ['notify', { ...HIGHLIGHT }],
      ),
      rule('.m.rule.reaction', [eventMatch('type', 'm.reaction')], []),
      rule(
        '.m.rule.room.server_acl',
        [eventMatch('type', 'm.room.server_acl'), eventMatch('state_key', '')],
        [],
      ),
      rule(
        '.m.rule.suppress_edits',
        [{ kind: 'event_property_is', key: 'content.m\\.relates_to.rel_type', value: 'm.replace' }],
        [],
      ),
    ],
    content: [],
    room: [],
    sender: [],
    underride: [
      rule(
        '.m.rule.call',
        [eventMatch('type', 'm.call.invite')],
        ['notify', { set_tweak: 'sound', value: 'ring' }],
      ),
      rule(
        '.m.rule.encrypted_room_one_to_one',
        [{ kind: 'room_member_count', is: '2' }, eventMatch('type', 'm.room.encrypted')],
        ['notify', { ...SOUND_DEFAULT }],
      ),
      rule(
        '.m.rule.room_one_to_one',
        [{ kind: 'room_member_count', is: '2' }, eventMatch('type', 'm.room.message')],
        ['notify', { ...SOUND_DEFAULT }],
      ),
      rule('.m.rule.message', [eventMatch('type', 'm.room.message')], ['notify']),
      rule('.m.rule.encrypted', [eventMatch('type', 'm.room.encrypted')], ['notify']),
    ],
  };
}
