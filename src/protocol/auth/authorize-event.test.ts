import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../core/canonical-json.js';
import type { RoomEvent, StateKey } from '../room-event.js';
import { KNOWN_ROOM_VERSIONS } from '../room-versions.js';
import type { RoomVersion } from '../room-versions.js';
import { generateSigningKey } from '../signing-key.js';
import type { SigningKey } from '../signing-key.js';
import { signJson } from '../signing.js';
import { CREATE_KEY, buildAuthState } from './auth-state.js';
import { AUTH_RULES, authorizeEvent, joinAuthorisingServer } from './authorize-event.js';
import type { AuthResult, AuthRule } from './authorize-event.js';
import {
  ALICE,
  BOB,
  CAROL,
  DAVE,
  EVE,
  MOD,
  TestRoom,
  makeCreateEvent,
  member,
  standardPowerLevels,
  standardRoom,
  versionById,
} from './test-room.js';
import type { EventSpec } from './test-room.js';

type Expected = AuthRule | 'allowed';

interface Case {
  event: RoomEvent;
  state: Map<StateKey, RoomEvent>;
}

interface Scenario {
  name: string;
  /** The room versions the scenario applies to (default: all). */
  when?: (version: RoomVersion) => boolean;
  expect: Expected | ((version: RoomVersion) => Expected);
  run: (version: RoomVersion) => Case;
}

function outcome(result: AuthResult): Expected {
  return result.allowed ? 'allowed' : result.rule;
}

/** The event built on top of the room, checked against the room's current state. */
function check(room: TestRoom, spec: EventSpec): Case {
  return { event: room.build(spec), state: room.state };
}

function message(sender: string, body = 'hi'): EventSpec {
  return { type: 'm.room.message', sender, content: { msgtype: 'm.text', body } };
}

function powerLevels(sender: string, content: JsonObject): EventSpec {
  return { type: 'm.room.power_levels', sender, stateKey: '', content };
}

/** Standard power levels with some top-level keys replaced (undefined removes a key). */
function changedLevels(version: RoomVersion, changes: Record<string, unknown>): JsonObject {
  const content: Record<string, unknown> = { ...standardPowerLevels(version), ...changes };
  for (const key of Object.keys(content)) if (content[key] === undefined) delete content[key];
  return content as JsonObject;
}

/** A copy of the standard `users` map with changes (undefined removes an entry). */
function changedUsers(version: RoomVersion, changes: Record<string, unknown>): JsonObject {
  const users: Record<string, unknown> = {
    ...(standardPowerLevels(version).users as JsonObject),
    ...changes,
  };
  for (const key of Object.keys(users)) if (users[key] === undefined) delete users[key];
  return users as JsonObject;
}

const MOD2 = '@mod2:b.test';

// Third-party invites: an identity server's keys, and a signed object for `mxid`/`token`.
const IDENTITY_KEY = urlSafeDistinctKey();
const OTHER_KEY = generateSigningKey('1');

/** A key whose public key has `+` or `/`, so its URL-safe spelling differs. */
function urlSafeDistinctKey(): SigningKey {
  for (;;) {
    const key = generateSigningKey('0');
    if (/[+/]/.test(key.publicKey)) return key;
  }
}

function signedBy(key: SigningKey, fields: JsonObject): JsonObject {
  return signJson(fields, 'id.test', key);
}

function thirdPartyRoom(version: RoomVersion, inviteContent?: JsonObject): TestRoom {
  const room = standardRoom(version);
  room.send({
    type: 'm.room.third_party_invite',
    sender: ALICE,
    stateKey: 'tok',
    content: inviteContent ?? {
      display_name: 'c...@example.org',
      key_validity_url: 'https://id.test/_matrix/identity/v2/pubkey/isvalid',
      public_key: IDENTITY_KEY.publicKey,
    },
  });
  return room;
}

function thirdPartyInvite(sender: string, target: string, invite: JsonObject): EventSpec {
  return member(sender, target, 'invite', {
    third_party_invite: { display_name: 'c...@example.org', ...invite },
  });
}

const GOOD_SIGNED = () => signedBy(IDENTITY_KEY, { mxid: CAROL, token: 'tok' });

// ---------------------------------------------------------------------------------------------

const CREATE: Scenario[] = [
  {
    name: 'a create event without prev_events',
    expect: 'allowed',
    run: (v) => ({ event: makeCreateEvent(v), state: new Map() }),
  },
  {
    name: 'a create event with prev_events',
    expect: 'create.has_prev_events',
    run: (v) => ({
      event: makeCreateEvent(v, { prevEvents: [v.eventIdFormat === 'v1' ? '$x:a.test' : '$abc'] }),
      state: new Map(),
    }),
  },
  {
    name: "a create event whose room ID is on the sender's server",
    when: (v) => !v.roomIdFromCreateEvent,
    expect: 'allowed',
    run: (v) => ({ event: makeCreateEvent(v, { roomId: '!r:a.test' }), state: new Map() }),
  },
  {
    name: 'a create event whose room ID is on another server',
    when: (v) => !v.roomIdFromCreateEvent,
    expect: 'create.room_id_domain',
    run: (v) => ({ event: makeCreateEvent(v, { roomId: '!r:b.test' }), state: new Map() }),
  },
  {
    name: 'a create event with a room_id',
    when: (v) => v.roomIdFromCreateEvent,
    expect: 'create.has_room_id',
    run: (v) => ({
      event: makeCreateEvent(v, { extra: { room_id: '!r:a.test' } }),
      state: new Map(),
    }),
  },
  {
    name: 'a create event naming another known room version',
    expect: 'allowed',
    run: (v) => ({
      event: makeCreateEvent(v, { content: { room_version: '1' } }),
      state: new Map(),
    }),
  },
  {
    name: 'a create event naming an unknown room version',
    expect: 'create.unknown_room_version',
    run: (v) => ({
      event: makeCreateEvent(v, { content: { room_version: '99' } }),
      state: new Map(),
    }),
  },
  {
    name: 'a create event with a non-string room version',
    expect: 'create.unknown_room_version',
    run: (v) => ({ event: makeCreateEvent(v, { content: { room_version: 1 } }), state: new Map() }),
  },
  {
    name: 'a create event without content.creator',
    expect: (v) => (v.implicitRoomCreator ? 'allowed' : 'create.missing_creator'),
    run: (v) => {
      const event = makeCreateEvent(v);
      const { creator: _creator, ...content } = event.content;
      return { event: { ...event, content }, state: new Map() };
    },
  },
  {
    name: 'a create event with additional_creators that are user IDs',
    expect: 'allowed',
    run: (v) => ({
      event: makeCreateEvent(v, { content: { additional_creators: [BOB, CAROL] } }),
      state: new Map(),
    }),
  },
  {
    name: 'a create event with an additional creator that is not a user ID',
    expect: (v) => (v.privilegedCreators ? 'create.invalid_additional_creators' : 'allowed'),
    run: (v) => ({
      event: makeCreateEvent(v, { content: { additional_creators: [BOB, 'carol'] } }),
      state: new Map(),
    }),
  },
  {
    name: 'a create event whose additional_creators is not a list',
    expect: (v) => (v.privilegedCreators ? 'create.invalid_additional_creators' : 'allowed'),
    run: (v) => ({
      event: makeCreateEvent(v, { content: { additional_creators: BOB } }),
      state: new Map(),
    }),
  },
];

const ROOM: Scenario[] = [
  {
    name: 'a message against a state with the create event',
    expect: 'allowed',
    run: (v) => check(standardRoom(v), message(BOB)),
  },
  {
    name: 'a message against a state without the create event',
    expect: 'room.no_create_event',
    run: (v) => {
      const { event, state } = check(standardRoom(v), message(BOB));
      state.delete(CREATE_KEY);
      return { event, state };
    },
  },
  {
    name: "a message against a state holding another room's create event",
    when: (v) => v.roomIdFromCreateEvent,
    expect: 'room.create_event_mismatch',
    run: (v) => {
      const { event, state } = check(standardRoom(v), message(BOB));
      state.set(CREATE_KEY, makeCreateEvent(v, { content: { other: true } }));
      return { event, state };
    },
  },
  {
    name: 'against its auth events plus the create event found by room ID',
    expect: 'allowed',
    run: (v) => {
      const room = standardRoom(v);
      const spec = message(BOB);
      const authEvents = room.selectAuthEvents(spec);
      return { event: room.build(spec), state: buildAuthState([room.create, ...authEvents]) };
    },
  },
  {
    name: "a join from the creator's server in a room with m.federate false",
    expect: 'allowed',
    run: (v) => check(unfederatedRoom(v), member(DAVE, DAVE, 'join')),
  },
  {
    name: 'a join from another server in a room with m.federate false',
    expect: 'room.not_federated',
    run: (v) => check(unfederatedRoom(v), member(BOB, BOB, 'join')),
  },
  {
    name: 'a join from another server in a room with m.federate true',
    expect: 'allowed',
    run: (v) =>
      check(
        standardRoom(v, { create: { content: { 'm.federate': true } } }),
        member(CAROL, CAROL, 'join'),
      ),
  },
];

function unfederatedRoom(version: RoomVersion): TestRoom {
  const room = new TestRoom(version, { content: { 'm.federate': false } });
  room.send(member(ALICE, ALICE, 'join'));
  room.send({
    type: 'm.room.join_rules',
    sender: ALICE,
    stateKey: '',
    content: { join_rule: 'public' },
  });
  return room;
}

const ALIASES: Scenario[] = [
  {
    name: "aliases for the sender's server from a server with no member in the room",
    expect: (v) => (v.specialCaseAliasesAuth ? 'allowed' : 'sender.not_joined'),
    run: (v) =>
      check(standardRoom(v), {
        type: 'm.room.aliases',
        sender: CAROL,
        stateKey: 'c.test',
        content: { aliases: ['#x:c.test'] },
      }),
  },
  {
    name: 'aliases whose state key is another server',
    expect: (v) => (v.specialCaseAliasesAuth ? 'aliases.state_key_mismatch' : 'allowed'),
    run: (v) =>
      check(standardRoom(v), {
        type: 'm.room.aliases',
        sender: ALICE,
        stateKey: 'b.test',
        content: { aliases: ['#x:b.test'] },
      }),
  },
  {
    name: 'aliases without a state key',
    expect: (v) => (v.specialCaseAliasesAuth ? 'aliases.no_state_key' : 'allowed'),
    run: (v) =>
      check(standardRoom(v), { type: 'm.room.aliases', sender: ALICE, content: { aliases: [] } }),
  },
  {
    name: 'aliases from a joined user below the state default',
    expect: (v) => (v.specialCaseAliasesAuth ? 'allowed' : 'event.power_too_low'),
    run: (v) =>
      check(standardRoom(v), {
        type: 'm.room.aliases',
        sender: BOB,
        stateKey: 'b.test',
        content: { aliases: ['#x:b.test'] },
      }),
  },
];

const MEMBER: Scenario[] = [
  {
    name: 'a member event without membership',
    expect: 'member.missing_state_key_or_membership',
    run: (v) =>
      check(standardRoom(v), {
        type: 'm.room.member',
        sender: CAROL,
        stateKey: CAROL,
        content: {},
      }),
  },
  {
    name: 'a member event without a state key',
    expect: 'member.missing_state_key_or_membership',
    run: (v) =>
      check(standardRoom(v), {
        type: 'm.room.member',
        sender: CAROL,
        content: { membership: 'join' },
      }),
  },
  {
    name: 'an unknown membership',
    expect: 'member.unknown_membership',
    run: (v) => check(standardRoom(v), member(BOB, BOB, 'dance')),
  },
  {
    name: 'a join with join_authorised_via_users_server that is not a user ID',
    expect: (v) => (v.restrictedJoinRule ? 'member.authorising_user_invalid' : 'allowed'),
    run: (v) =>
      check(
        standardRoom(v),
        member(CAROL, CAROL, 'join', { join_authorised_via_users_server: 'mod' }),
      ),
  },
  {
    name: 'a join with join_authorised_via_users_server that is a user ID',
    expect: 'allowed',
    run: (v) =>
      check(
        standardRoom(v),
        member(CAROL, CAROL, 'join', { join_authorised_via_users_server: MOD }),
      ),
  },
];

const FIRST_JOIN: Scenario[] = [
  {
    name: "the creator's join right after the create event",
    expect: 'allowed',
    run: (v) => check(new TestRoom(v), member(ALICE, ALICE, 'join')),
  },
  {
    name: "the creator's join after the create event and another event",
    expect: 'member.join.not_invited',
    run: (v) => {
      const room = new TestRoom(v);
      const other = room.force({
        type: 'm.room.topic',
        sender: ALICE,
        stateKey: '',
        content: { topic: 't' },
      });
      return check(room, {
        ...member(ALICE, ALICE, 'join'),
        prevEvents: [room.create.eventId, other.eventId],
      });
    },
  },
  {
    name: 'the first join of content.creator, who did not send the create event',
    expect: (v) => (v.implicitRoomCreator ? 'member.join.not_invited' : 'allowed'),
    run: (v) => check(new TestRoom(v, { content: { creator: DAVE } }), member(DAVE, DAVE, 'join')),
  },
  {
    name: 'the first join of the create sender, who is not content.creator',
    expect: (v) => (v.implicitRoomCreator ? 'allowed' : 'member.join.not_invited'),
    run: (v) =>
      check(new TestRoom(v, { content: { creator: DAVE } }), member(ALICE, ALICE, 'join')),
  },
  {
    // v12 rule 5.3.1 names "the sender of the m.room.create" only.
    name: 'the first join of an additional creator',
    expect: 'member.join.not_invited',
    run: (v) =>
      check(
        new TestRoom(v, { content: { additional_creators: [DAVE] } }),
        member(DAVE, DAVE, 'join'),
      ),
  },
];

const JOIN: Scenario[] = [
  {
    name: 'a join of someone else',
    expect: 'member.join.sender_not_target',
    run: (v) => check(standardRoom(v), member(ALICE, CAROL, 'join')),
  },
  {
    name: 'a join to a public room',
    expect: 'allowed',
    run: (v) => check(standardRoom(v), member(CAROL, CAROL, 'join')),
  },
  {
    name: 'a join of a banned user to a public room',
    expect: 'member.join.banned',
    run: (v) => {
      const room = standardRoom(v);
      room.send(member(ALICE, CAROL, 'ban'));
      return check(room, member(CAROL, CAROL, 'join'));
    },
  },
  {
    name: 'a join of an invited user to an invite-only room',
    expect: 'allowed',
    run: (v) => {
      const room = standardRoom(v, { joinRule: 'invite' });
      room.send(member(ALICE, CAROL, 'invite'));
      return check(room, member(CAROL, CAROL, 'join'));
    },
  },
  {
    name: 'a join of a joined user to an invite-only room (a profile change)',
    expect: 'allowed',
    run: (v) =>
      check(
        standardRoom(v, { joinRule: 'invite' }),
        member(BOB, BOB, 'join', { displayname: 'B' }),
      ),
  },
  {
    name: 'a join of an uninvited user to an invite-only room',
    expect: 'member.join.not_invited',
    run: (v) => check(standardRoom(v, { joinRule: 'invite' }), member(CAROL, CAROL, 'join')),
  },
  {
    name: 'a join of an uninvited user to a room without join rules',
    expect: 'member.join.not_invited',
    run: (v) => {
      const room = new TestRoom(v);
      room.send(member(ALICE, ALICE, 'join'));
      return check(room, member(CAROL, CAROL, 'join'));
    },
  },
  {
    name: 'a join of an uninvited user to a room whose join rules lack join_rule',
    expect: 'member.join.not_invited',
    run: (v) => {
      const room = standardRoom(v);
      room.send({ type: 'm.room.join_rules', sender: ALICE, stateKey: '', content: {} });
      return check(room, member(CAROL, CAROL, 'join'));
    },
  },
  {
    name: 'a join of an invited user to a knock room',
    expect: (v) => (v.knockJoinRule ? 'allowed' : 'member.join.join_rule'),
    run: (v) => {
      const room = standardRoom(v, { joinRule: 'knock' });
      room.send(member(ALICE, CAROL, 'invite'));
      return check(room, member(CAROL, CAROL, 'join'));
    },
  },
  {
    name: 'a join of an uninvited user to a knock room',
    expect: (v) => (v.knockJoinRule ? 'member.join.not_invited' : 'member.join.join_rule'),
    run: (v) => check(standardRoom(v, { joinRule: 'knock' }), member(CAROL, CAROL, 'join')),
  },
  {
    name: 'a join to a private room',
    expect: 'member.join.join_rule',
    run: (v) => check(standardRoom(v, { joinRule: 'private' }), member(CAROL, CAROL, 'join')),
  },
];

/** Restricted joins, for `restricted` (v8+) and `knock_restricted` (v10+). */
function restrictedJoins(joinRule: string, supported: (v: RoomVersion) => boolean): Scenario[] {
  const rejectedBefore = (expected: Expected) => (v: RoomVersion) =>
    supported(v) ? expected : 'member.join.join_rule';
  return [
    {
      name: `a ${joinRule} join authorised by a joined user who can invite`,
      expect: rejectedBefore('allowed'),
      run: (v) =>
        check(
          standardRoom(v, { joinRule }),
          member(CAROL, CAROL, 'join', { join_authorised_via_users_server: MOD }),
        ),
    },
    {
      name: `a ${joinRule} join of an invited user, without an authoriser`,
      expect: rejectedBefore('allowed'),
      run: (v) => {
        const room = standardRoom(v, { joinRule });
        room.send(member(ALICE, CAROL, 'invite'));
        return check(room, member(CAROL, CAROL, 'join'));
      },
    },
    {
      name: `a ${joinRule} join without an authoriser`,
      expect: rejectedBefore('member.join.authoriser_missing'),
      run: (v) => check(standardRoom(v, { joinRule }), member(CAROL, CAROL, 'join')),
    },
    {
      name: `a ${joinRule} join authorised by a user who is not joined`,
      expect: rejectedBefore('member.join.authoriser_not_joined'),
      run: (v) =>
        check(
          standardRoom(v, { joinRule }),
          member(CAROL, CAROL, 'join', { join_authorised_via_users_server: EVE }),
        ),
    },
    {
      name: `a ${joinRule} join authorised by a joined user below the invite level`,
      expect: rejectedBefore('member.join.authoriser_cannot_invite'),
      run: (v) =>
        check(
          standardRoom(v, { joinRule, powerLevels: { invite: 10 } }),
          member(CAROL, CAROL, 'join', { join_authorised_via_users_server: BOB }),
        ),
    },
  ];
}

const INVITE: Scenario[] = [
  {
    name: 'an invite by a joined user at the invite level',
    expect: 'allowed',
    run: (v) => check(standardRoom(v), member(BOB, CAROL, 'invite')),
  },
  {
    name: 'an invite by a user who is not joined',
    expect: 'member.invite.sender_not_joined',
    run: (v) => check(standardRoom(v), member(CAROL, EVE, 'invite')),
  },
  {
    name: 'an invite of a joined user',
    expect: 'member.invite.target_joined_or_banned',
    run: (v) => check(standardRoom(v), member(ALICE, BOB, 'invite')),
  },
  {
    name: 'an invite of a banned user',
    expect: 'member.invite.target_joined_or_banned',
    run: (v) => {
      const room = standardRoom(v);
      room.send(member(ALICE, CAROL, 'ban'));
      return check(room, member(ALICE, CAROL, 'invite'));
    },
  },
  {
    name: 'an invite by a joined user below the invite level',
    expect: 'member.invite.insufficient_power',
    run: (v) =>
      check(standardRoom(v, { powerLevels: { invite: 10 } }), member(BOB, CAROL, 'invite')),
  },
];

const THIRD_PARTY_INVITE: Scenario[] = [
  {
    name: 'a third-party invite signed with the public_key',
    expect: 'allowed',
    run: (v) => check(thirdPartyRoom(v), thirdPartyInvite(ALICE, CAROL, { signed: GOOD_SIGNED() })),
  },
  {
    name: 'a third-party invite signed with a key of public_keys, in URL-safe base64',
    expect: 'allowed',
    run: (v) => {
      const urlSafe = IDENTITY_KEY.publicKey.replace(/\+/g, '-').replace(/\//g, '_');
      const room = thirdPartyRoom(v, {
        display_name: 'c...',
        key_validity_url: 'https://id.test/isvalid',
        public_key: OTHER_KEY.publicKey,
        public_keys: [{ public_key: urlSafe }],
      });
      return check(room, thirdPartyInvite(ALICE, CAROL, { signed: GOOD_SIGNED() }));
    },
  },
  {
    name: 'a third-party invite of a banned user',
    expect: 'member.third_party_invite.target_banned',
    run: (v) => {
      const room = thirdPartyRoom(v);
      room.send(member(ALICE, CAROL, 'ban'));
      return check(room, thirdPartyInvite(ALICE, CAROL, { signed: GOOD_SIGNED() }));
    },
  },
  {
    name: 'a third-party invite without signed',
    expect: 'member.third_party_invite.no_signed',
    run: (v) => check(thirdPartyRoom(v), thirdPartyInvite(ALICE, CAROL, {})),
  },
  {
    name: 'a third-party invite whose signed has no token',
    expect: 'member.third_party_invite.no_mxid_or_token',
    run: (v) =>
      check(
        thirdPartyRoom(v),
        thirdPartyInvite(ALICE, CAROL, { signed: signedBy(IDENTITY_KEY, { mxid: CAROL }) }),
      ),
  },
  {
    name: 'a third-party invite whose mxid is not the state key',
    expect: 'member.third_party_invite.mxid_mismatch',
    run: (v) => check(thirdPartyRoom(v), thirdPartyInvite(ALICE, EVE, { signed: GOOD_SIGNED() })),
  },
  {
    name: 'a third-party invite whose token has no m.room.third_party_invite',
    expect: 'member.third_party_invite.no_invite_event',
    run: (v) =>
      check(
        thirdPartyRoom(v),
        thirdPartyInvite(ALICE, CAROL, {
          signed: signedBy(IDENTITY_KEY, { mxid: CAROL, token: 'other' }),
        }),
      ),
  },
  {
    name: 'a third-party invite sent by someone else than the m.room.third_party_invite',
    expect: 'member.third_party_invite.sender_mismatch',
    run: (v) => check(thirdPartyRoom(v), thirdPartyInvite(MOD, CAROL, { signed: GOOD_SIGNED() })),
  },
  {
    name: 'a third-party invite signed by another key',
    expect: 'member.third_party_invite.bad_signature',
    run: (v) =>
      check(
        thirdPartyRoom(v),
        thirdPartyInvite(ALICE, CAROL, {
          signed: signedBy(OTHER_KEY, { mxid: CAROL, token: 'tok' }),
        }),
      ),
  },
  {
    name: 'a third-party invite whose signed object was altered after signing',
    expect: 'member.third_party_invite.bad_signature',
    run: (v) =>
      check(
        thirdPartyRoom(v),
        thirdPartyInvite(ALICE, CAROL, { signed: { ...GOOD_SIGNED(), extra: 1 } }),
      ),
  },
];

const LEAVE: Scenario[] = [
  {
    name: 'a joined user leaving',
    expect: 'allowed',
    run: (v) => check(standardRoom(v), member(BOB, BOB, 'leave')),
  },
  {
    name: 'an invited user rejecting the invite',
    expect: 'allowed',
    run: (v) => {
      const room = standardRoom(v);
      room.send(member(ALICE, CAROL, 'invite'));
      return check(room, member(CAROL, CAROL, 'leave'));
    },
  },
  {
    name: 'a user who is not in the room leaving',
    expect: 'member.leave.not_member',
    run: (v) => check(standardRoom(v), member(CAROL, CAROL, 'leave')),
  },
  {
    name: 'a knocking user withdrawing the knock',
    expect: (v) => (v.knockJoinRule ? 'allowed' : 'member.leave.not_member'),
    run: (v) => {
      const room = standardRoom(v, { joinRule: 'knock' });
      room.force(member(CAROL, CAROL, 'knock'));
      return check(room, member(CAROL, CAROL, 'leave'));
    },
  },
  {
    name: 'a kick by a user above the kick level and the target',
    expect: 'allowed',
    run: (v) => check(standardRoom(v), member(MOD, BOB, 'leave')),
  },
  {
    name: 'a kick by a user who is not joined',
    expect: 'member.leave.sender_not_joined',
    run: (v) => {
      const room = standardRoom(v, {
        powerLevels: { users: { ...changedUsers(v, { [CAROL]: 100 }) } },
      });
      return check(room, member(CAROL, BOB, 'leave'));
    },
  },
  {
    name: 'a kick by a user below the kick level',
    expect: 'member.leave.kick_insufficient_power',
    run: (v) => {
      const room = standardRoom(v);
      room.send(member(BOB, CAROL, 'invite'));
      return check(room, member(BOB, CAROL, 'leave'));
    },
  },
  {
    name: 'a kick of a user at the same level',
    expect: 'member.leave.kick_insufficient_power',
    run: (v) =>
      check(
        standardRoom(v, { powerLevels: { users: changedUsers(v, { [MOD2]: 50 }) } }),
        member(MOD, MOD2, 'leave'),
      ),
  },
  {
    name: 'a kick of the room creator',
    expect: 'member.leave.kick_insufficient_power',
    run: (v) => check(standardRoom(v), member(MOD, ALICE, 'leave')),
  },
  {
    name: 'an unban by a user at the ban level',
    expect: 'allowed',
    run: (v) => {
      const room = standardRoom(v);
      room.send(member(ALICE, CAROL, 'ban'));
      return check(room, member(MOD, CAROL, 'leave'));
    },
  },
  {
    name: 'an unban by a user at the kick level but below the ban level',
    expect: 'member.leave.unban_insufficient_power',
    run: (v) => {
      const room = standardRoom(v, { powerLevels: { ban: 60 } });
      room.send(member(ALICE, CAROL, 'ban'));
      return check(room, member(MOD, CAROL, 'leave'));
    },
  },
];

const BAN: Scenario[] = [
  {
    name: 'a ban by a user at the ban level, above the target',
    expect: 'allowed',
    run: (v) => check(standardRoom(v), member(MOD, BOB, 'ban')),
  },
  {
    name: 'a ban of a user who never joined',
    expect: 'allowed',
    run: (v) => check(standardRoom(v), member(MOD, CAROL, 'ban')),
  },
  {
    name: 'a ban by a user who is not joined',
    expect: 'member.ban.sender_not_joined',
    run: (v) => {
      const room = standardRoom(v, { powerLevels: { users: changedUsers(v, { [CAROL]: 100 }) } });
      return check(room, member(CAROL, BOB, 'ban'));
    },
  },
  {
    name: 'a ban by a user below the ban level',
    expect: 'member.ban.insufficient_power',
    run: (v) => check(standardRoom(v), member(BOB, MOD, 'ban')),
  },
  {
    name: 'a ban of the room creator',
    expect: 'member.ban.insufficient_power',
    run: (v) => check(standardRoom(v, { powerLevels: { ban: 0 } }), member(MOD, ALICE, 'ban')),
  },
];

const KNOCK: Scenario[] = [
  {
    name: 'a knock on a knock room',
    expect: (v) => (v.knockJoinRule ? 'allowed' : 'member.unknown_membership'),
    run: (v) => check(standardRoom(v, { joinRule: 'knock' }), member(CAROL, CAROL, 'knock')),
  },
  {
    name: 'a knock on a knock_restricted room',
    expect: (v) =>
      v.knockRestrictedJoinRule
        ? 'allowed'
        : v.knockJoinRule
          ? 'member.knock.join_rule'
          : 'member.unknown_membership',
    run: (v) =>
      check(standardRoom(v, { joinRule: 'knock_restricted' }), member(CAROL, CAROL, 'knock')),
  },
  {
    name: 'a knock on a public room',
    expect: (v) => (v.knockJoinRule ? 'member.knock.join_rule' : 'member.unknown_membership'),
    run: (v) => check(standardRoom(v), member(CAROL, CAROL, 'knock')),
  },
  {
    name: 'a knock for someone else',
    expect: (v) =>
      v.knockJoinRule ? 'member.knock.sender_not_target' : 'member.unknown_membership',
    run: (v) => check(standardRoom(v, { joinRule: 'knock' }), member(BOB, CAROL, 'knock')),
  },
  {
    name: 'a knock by a banned user',
    expect: (v) =>
      v.knockJoinRule ? 'member.knock.banned_invited_or_joined' : 'member.unknown_membership',
    run: (v) => {
      const room = standardRoom(v, { joinRule: 'knock' });
      room.send(member(ALICE, CAROL, 'ban'));
      return check(room, member(CAROL, CAROL, 'knock'));
    },
  },
  {
    name: 'a knock by an invited user',
    expect: (v) =>
      v.knockJoinRule ? 'member.knock.banned_invited_or_joined' : 'member.unknown_membership',
    run: (v) => {
      const room = standardRoom(v, { joinRule: 'knock' });
      room.send(member(ALICE, CAROL, 'invite'));
      return check(room, member(CAROL, CAROL, 'knock'));
    },
  },
  {
    name: 'a knock by a joined user',
    expect: (v) =>
      v.knockJoinRule ? 'member.knock.banned_invited_or_joined' : 'member.unknown_membership',
    run: (v) => check(standardRoom(v, { joinRule: 'knock' }), member(BOB, BOB, 'knock')),
  },
];

const OTHER_EVENTS: Scenario[] = [
  {
    name: 'a message by a joined user',
    expect: 'allowed',
    run: (v) => check(standardRoom(v), message(BOB)),
  },
  {
    name: 'a message by a user who never joined',
    expect: 'sender.not_joined',
    run: (v) => check(standardRoom(v), message(CAROL)),
  },
  {
    name: 'a message by an invited user',
    expect: 'sender.not_joined',
    run: (v) => {
      const room = standardRoom(v);
      room.send(member(ALICE, CAROL, 'invite'));
      return check(room, message(CAROL));
    },
  },
  {
    name: 'a message by a user who left',
    expect: 'sender.not_joined',
    run: (v) => {
      const room = standardRoom(v);
      room.send(member(BOB, BOB, 'leave'));
      return check(room, message(BOB));
    },
  },
  {
    name: 'a third-party invite event at the invite level, below the state default',
    expect: 'allowed',
    run: (v) =>
      check(standardRoom(v), {
        type: 'm.room.third_party_invite',
        sender: BOB,
        stateKey: 'tok',
        content: { display_name: 'x', key_validity_url: 'https://id.test', public_key: 'abc' },
      }),
  },
  {
    name: 'a third-party invite event below the invite level',
    expect: 'third_party_invite.insufficient_power',
    run: (v) =>
      check(standardRoom(v, { powerLevels: { invite: 10 } }), {
        type: 'm.room.third_party_invite',
        sender: BOB,
        stateKey: 'tok',
        content: { display_name: 'x', key_validity_url: 'https://id.test', public_key: 'abc' },
      }),
  },
  {
    name: 'a state event by a user at the state default',
    expect: 'allowed',
    run: (v) =>
      check(standardRoom(v), {
        type: 'm.room.topic',
        sender: MOD,
        stateKey: '',
        content: { topic: 't' },
      }),
  },
  {
    name: 'a state event by a user below the state default',
    expect: 'event.power_too_low',
    run: (v) =>
      check(standardRoom(v), {
        type: 'm.room.topic',
        sender: BOB,
        stateKey: '',
        content: { topic: 't' },
      }),
  },
  {
    name: 'a state event whose events level is below the state default',
    expect: 'allowed',
    run: (v) =>
      check(standardRoom(v, { powerLevels: { events: { 'm.room.topic': 0 } } }), {
        type: 'm.room.topic',
        sender: BOB,
        stateKey: '',
        content: { topic: 't' },
      }),
  },
  {
    name: 'a state event whose events level is above the sender',
    expect: 'event.power_too_low',
    run: (v) =>
      check(standardRoom(v), { type: 'm.room.tombstone', sender: MOD, stateKey: '', content: {} }),
  },
  {
    name: 'a state event at the highest level, by the room creator',
    expect: 'allowed',
    run: (v) =>
      check(standardRoom(v), {
        type: 'm.room.tombstone',
        sender: ALICE,
        stateKey: '',
        content: {},
      }),
  },
  {
    name: 'a message by a user below events_default',
    expect: 'event.power_too_low',
    run: (v) => check(standardRoom(v, { powerLevels: { events_default: 10 } }), message(BOB)),
  },
  {
    name: 'a message whose events level is below events_default',
    expect: 'allowed',
    run: (v) =>
      check(
        standardRoom(v, { powerLevels: { events_default: 10, events: { 'm.room.message': 0 } } }),
        message(BOB),
      ),
  },
  {
    name: "a state event keyed by the sender's user ID",
    expect: 'allowed',
    run: (v) =>
      check(standardRoom(v, { powerLevels: { events: { 'm.custom': 0 } } }), {
        type: 'm.custom',
        sender: BOB,
        stateKey: BOB,
        content: {},
      }),
  },
  {
    name: "a state event keyed by another user's ID",
    expect: 'event.state_key_not_sender',
    run: (v) =>
      check(standardRoom(v, { powerLevels: { events: { 'm.custom': 0 } } }), {
        type: 'm.custom',
        sender: ALICE,
        stateKey: BOB,
        content: {},
      }),
  },
  {
    name: 'a state event whose state key starts with @ but is no user ID',
    expect: 'event.state_key_not_sender',
    run: (v) =>
      check(standardRoom(v, { powerLevels: { events: { 'm.custom': 0 } } }), {
        type: 'm.custom',
        sender: BOB,
        stateKey: '@',
        content: {},
      }),
  },
];

const POWER_LEVELS: Scenario[] = [
  {
    name: 'the first power levels event, with levels above the sender',
    expect: 'allowed',
    run: (v) => {
      const room = new TestRoom(v);
      room.send(member(ALICE, ALICE, 'join'));
      return check(
        room,
        powerLevels(ALICE, { ban: 1000, users: { [BOB]: 1000 }, events: { x: 1000 } }),
      );
    },
  },
  {
    name: 'power levels whose users key is not a user ID',
    expect: 'power_levels.invalid_users',
    run: (v) =>
      check(
        standardRoom(v),
        powerLevels(ALICE, changedLevels(v, { users: changedUsers(v, { bob: 10 }) })),
      ),
  },
  {
    name: 'power levels whose users value is not a number',
    expect: 'power_levels.invalid_users',
    run: (v) =>
      check(
        standardRoom(v),
        powerLevels(ALICE, changedLevels(v, { users: changedUsers(v, { [BOB]: 'ten' }) })),
      ),
  },
  {
    name: 'power levels whose users is not an object',
    expect: 'power_levels.invalid_users',
    run: (v) => check(standardRoom(v), powerLevels(ALICE, changedLevels(v, { users: [BOB] }))),
  },
  {
    name: 'power levels with a string users value',
    expect: (v) => (v.integerPowerLevels ? 'power_levels.invalid_users' : 'allowed'),
    run: (v) =>
      check(
        standardRoom(v),
        powerLevels(ALICE, changedLevels(v, { users: changedUsers(v, { [BOB]: ' +010 ' }) })),
      ),
  },
  {
    name: 'power levels with a string level',
    expect: (v) => (v.integerPowerLevels ? 'power_levels.invalid_level' : 'allowed'),
    run: (v) => check(standardRoom(v), powerLevels(ALICE, changedLevels(v, { ban: '60' }))),
  },
  {
    name: 'power levels with a level that is not a number',
    expect: 'power_levels.invalid_level',
    run: (v) => check(standardRoom(v), powerLevels(ALICE, changedLevels(v, { ban: 'sixty' }))),
  },
  {
    name: 'power levels with a null level',
    expect: 'power_levels.invalid_level',
    run: (v) => check(standardRoom(v), powerLevels(ALICE, changedLevels(v, { kick: null }))),
  },
  {
    name: 'power levels with a string events level',
    expect: (v) => (v.integerPowerLevels ? 'power_levels.invalid_events' : 'allowed'),
    run: (v) =>
      check(
        standardRoom(v),
        powerLevels(ALICE, changedLevels(v, { events: { 'm.room.name': '60' } })),
      ),
  },
  {
    name: 'power levels whose events is not an object',
    expect: 'power_levels.invalid_events',
    run: (v) => check(standardRoom(v), powerLevels(ALICE, changedLevels(v, { events: 50 }))),
  },
  {
    name: 'power levels with a string notifications level',
    expect: (v) => (v.integerPowerLevels ? 'power_levels.invalid_events' : 'allowed'),
    run: (v) =>
      check(
        standardRoom(v),
        powerLevels(ALICE, changedLevels(v, { notifications: { room: '60' } })),
      ),
  },
  {
    name: 'power levels whose notifications is not an object',
    expect: (v) => (v.limitNotificationsPowerLevels ? 'power_levels.invalid_events' : 'allowed'),
    run: (v) =>
      check(standardRoom(v), powerLevels(ALICE, changedLevels(v, { notifications: 'none' }))),
  },
  {
    name: 'power levels with float values',
    expect: (v) => (v.strictCanonicalJson ? 'power_levels.invalid_users' : 'allowed'),
    run: (v) => {
      // Built with integers, then given floats: v3–5 event IDs cannot hash floats.
      const { event, state } = check(standardRoom(v), powerLevels(ALICE, standardPowerLevels(v)));
      const content = changedLevels(v, { users: changedUsers(v, { [BOB]: 40.57 }) });
      return { event: { ...event, content }, state };
    },
  },
  {
    name: 'power levels listing the create sender in users',
    expect: (v) => (v.privilegedCreators ? 'power_levels.creator_in_users' : 'allowed'),
    run: (v) =>
      check(
        standardRoom(v),
        powerLevels(ALICE, changedLevels(v, { users: changedUsers(v, { [ALICE]: 100 }) })),
      ),
  },
  {
    name: 'power levels listing an additional creator in users',
    expect: (v) => (v.privilegedCreators ? 'power_levels.creator_in_users' : 'allowed'),
    run: (v) => {
      const room = standardRoom(v, { create: { content: { additional_creators: [DAVE] } } });
      return check(
        room,
        powerLevels(ALICE, changedLevels(v, { users: changedUsers(v, { [DAVE]: 50 }) })),
      );
    },
  },
  {
    name: 'a change of a level from the sender level to below it',
    expect: 'allowed',
    run: (v) => check(standardRoom(v), powerLevels(MOD, changedLevels(v, { kick: 40 }))),
  },
  {
    name: 'a change of a level from above the sender',
    expect: 'power_levels.named_current_above_own',
    run: (v) =>
      check(
        standardRoom(v, { powerLevels: { redact: 75 } }),
        powerLevels(MOD, changedLevels(v, { redact: 40 })),
      ),
  },
  {
    name: 'a removal of a level above the sender',
    expect: 'power_levels.named_current_above_own',
    run: (v) =>
      check(
        standardRoom(v, { powerLevels: { redact: 75 } }),
        powerLevels(MOD, changedLevels(v, { redact: undefined })),
      ),
  },
  {
    name: 'a change of a level to above the sender',
    expect: 'power_levels.named_new_above_own',
    run: (v) => check(standardRoom(v), powerLevels(MOD, changedLevels(v, { ban: 60 }))),
  },
  {
    name: 'an addition of a level above the sender',
    expect: 'power_levels.named_new_above_own',
    run: (v) =>
      check(
        standardRoom(v, { powerLevels: { invite: undefined } }),
        powerLevels(MOD, changedLevels(v, { invite: 60 })),
      ),
  },
  {
    name: 'an unchanged level above the sender',
    expect: 'allowed',
    run: (v) =>
      check(
        standardRoom(v, { powerLevels: { redact: 75 } }),
        powerLevels(MOD, changedLevels(v, { redact: 75, kick: 10 })),
      ),
  },
  {
    name: 'a level re-spelt as a string of the same value, above the sender',
    when: (v) => !v.integerPowerLevels,
    expect: 'allowed',
    run: (v) =>
      check(
        standardRoom(v, { powerLevels: { redact: 75 } }),
        powerLevels(MOD, changedLevels(v, { redact: ' 075' })),
      ),
  },
  {
    name: 'a change of an events level from above the sender',
    expect: 'power_levels.event_current_above_own',
    run: (v) =>
      check(
        standardRoom(v),
        powerLevels(
          MOD,
          changedLevels(v, {
            events: { 'm.room.power_levels': 50, 'm.room.tombstone': 50, 'm.room.name': 50 },
          }),
        ),
      ),
  },
  {
    name: 'a removal of an events level above the sender',
    expect: 'power_levels.event_current_above_own',
    run: (v) =>
      check(
        standardRoom(v),
        powerLevels(
          MOD,
          changedLevels(v, { events: { 'm.room.power_levels': 50, 'm.room.name': 50 } }),
        ),
      ),
  },
  {
    name: 'an addition of an events level at the sender level',
    expect: 'allowed',
    run: (v) =>
      check(
        standardRoom(v),
        powerLevels(
          MOD,
          changedLevels(v, {
            events: { ...(standardPowerLevels(v).events as JsonObject), 'm.x': 50 },
          }),
        ),
      ),
  },
  {
    name: 'an addition of an events level above the sender',
    expect: 'power_levels.event_new_above_own',
    run: (v) =>
      check(
        standardRoom(v),
        powerLevels(
          MOD,
          changedLevels(v, {
            events: { ...(standardPowerLevels(v).events as JsonObject), 'm.x': 51 },
          }),
        ),
      ),
  },
  {
    name: 'a change of a notifications level from above the sender',
    expect: (v) =>
      v.limitNotificationsPowerLevels ? 'power_levels.event_current_above_own' : 'allowed',
    run: (v) =>
      check(
        standardRoom(v, { powerLevels: { notifications: { room: 100 } } }),
        powerLevels(MOD, changedLevels(v, { notifications: { room: 50 } })),
      ),
  },
  {
    name: 'a change of a notifications level to above the sender',
    expect: (v) =>
      v.limitNotificationsPowerLevels ? 'power_levels.event_new_above_own' : 'allowed',
    run: (v) =>
      check(standardRoom(v), powerLevels(MOD, changedLevels(v, { notifications: { room: 60 } }))),
  },
  {
    name: 'a change of a notifications level within the sender level',
    expect: 'allowed',
    run: (v) =>
      check(standardRoom(v), powerLevels(MOD, changedLevels(v, { notifications: { room: 10 } }))),
  },
  {
    name: 'a change of a user below the sender',
    expect: 'allowed',
    run: (v) =>
      check(
        standardRoom(v),
        powerLevels(MOD, changedLevels(v, { users: changedUsers(v, { [BOB]: 50 }) })),
      ),
  },
  {
    name: 'a change of a user at the sender level',
    expect: 'power_levels.user_current_not_below_own',
    run: (v) =>
      check(
        standardRoom(v, { powerLevels: { users: changedUsers(v, { [MOD2]: 50 }) } }),
        powerLevels(MOD, changedLevels(v, { users: changedUsers(v, { [MOD2]: 10 }) })),
      ),
  },
  {
    name: 'a removal of a user at the sender level',
    expect: 'power_levels.user_current_not_below_own',
    run: (v) =>
      check(
        standardRoom(v, { powerLevels: { users: changedUsers(v, { [MOD2]: 50 }) } }),
        powerLevels(MOD, changedLevels(v, { users: changedUsers(v, {}) })),
      ),
  },
  {
    name: "a change of the sender's own level, downwards",
    expect: 'allowed',
    run: (v) =>
      check(
        standardRoom(v),
        powerLevels(MOD, changedLevels(v, { users: changedUsers(v, { [MOD]: 10 }) })),
      ),
  },
  {
    name: "a removal of the sender's own level",
    expect: 'allowed',
    run: (v) =>
      check(
        standardRoom(v),
        powerLevels(MOD, changedLevels(v, { users: changedUsers(v, { [MOD]: undefined }) })),
      ),
  },
  {
    name: "a change of the sender's own level, upwards",
    expect: 'power_levels.raise_above_own',
    run: (v) =>
      check(
        standardRoom(v),
        powerLevels(MOD, changedLevels(v, { users: changedUsers(v, { [MOD]: 51 }) })),
      ),
  },
  {
    name: 'an addition of a user above the sender',
    expect: 'power_levels.raise_above_own',
    run: (v) =>
      check(
        standardRoom(v),
        powerLevels(MOD, changedLevels(v, { users: changedUsers(v, { [CAROL]: 60 }) })),
      ),
  },
  {
    name: 'an addition of a user at a level above 100, by the room creator',
    expect: (v) => (v.privilegedCreators ? 'allowed' : 'power_levels.raise_above_own'),
    run: (v) =>
      check(
        standardRoom(v),
        powerLevels(ALICE, changedLevels(v, { users: changedUsers(v, { [BOB]: 1_000_000 }) })),
      ),
  },
];

const REDACTION: Scenario[] = [
  {
    name: 'a redaction by a user below the redact level, of an event from its own server',
    expect: 'allowed',
    run: (v) => {
      const room = standardRoom(v);
      const target = room.send(message(MOD));
      return check(room, {
        type: 'm.room.redaction',
        sender: BOB,
        content: {},
        redacts: target.eventId,
      });
    },
  },
  {
    name: 'a redaction by a user below the redact level, of an event from another server',
    expect: (v) => (v.redactionAuthRule ? 'redaction.insufficient_power' : 'allowed'),
    run: (v) => {
      const room = standardRoom(v);
      const target = room.send(message(ALICE));
      return check(room, {
        type: 'm.room.redaction',
        sender: BOB,
        content: {},
        redacts: target.eventId,
      });
    },
  },
  {
    name: 'a redaction by a user at the redact level, of an event from another server',
    expect: 'allowed',
    run: (v) => {
      const room = standardRoom(v);
      const target = room.send(message(ALICE));
      return check(room, {
        type: 'm.room.redaction',
        sender: MOD,
        content: {},
        redacts: target.eventId,
      });
    },
  },
  {
    name: 'a redaction by a user below its events level',
    expect: 'event.power_too_low',
    run: (v) => {
      const room = standardRoom(v, { powerLevels: { events: { 'm.room.redaction': 10 } } });
      const target = room.send(message(BOB));
      return check(room, {
        type: 'm.room.redaction',
        sender: BOB,
        content: {},
        redacts: target.eventId,
      });
    },
  },
];

const GROUPS: [string, Scenario[]][] = [
  ['m.room.create', CREATE],
  ['the create event and m.federate', ROOM],
  ['m.room.aliases', ALIASES],
  ['m.room.member', MEMBER],
  ['first join', FIRST_JOIN],
  ['join', JOIN],
  ['restricted join', restrictedJoins('restricted', (v) => v.restrictedJoinRule)],
  ['knock_restricted join', restrictedJoins('knock_restricted', (v) => v.knockRestrictedJoinRule)],
  ['invite', INVITE],
  ['third-party invite', THIRD_PARTY_INVITE],
  ['leave', LEAVE],
  ['ban', BAN],
  ['knock', KNOCK],
  ['other events', OTHER_EVENTS],
  ['m.room.power_levels', POWER_LEVELS],
  ['m.room.redaction', REDACTION],
];

describe.each(KNOWN_ROOM_VERSIONS.map((v) => [v.id, v] as const))(
  'room version %s',
  (_id, version) => {
    for (const [group, scenarios] of GROUPS) {
      describe(group, () => {
        for (const scenario of scenarios) {
          if (scenario.when !== undefined && !scenario.when(version)) continue;
          const expected =
            typeof scenario.expect === 'function' ? scenario.expect(version) : scenario.expect;
          it(`${scenario.name}: ${expected}`, () => {
            const { event, state } = scenario.run(version);
            const result = authorizeEvent(event, state, version);
            expect(outcome(result), result.allowed ? '' : result.reason).toBe(expected);
          });
        }
      });
    }
  },
);

describe('joinAuthorisingServer', () => {
  it('names the server of join_authorised_via_users_server from v8', () => {
    for (const version of KNOWN_ROOM_VERSIONS) {
      const room = standardRoom(version, { joinRule: 'restricted' });
      const join = room.build(
        member(CAROL, CAROL, 'join', { join_authorised_via_users_server: MOD }),
      );
      expect(joinAuthorisingServer(join, version)).toBe(
        version.restrictedJoinRule ? 'b.test' : undefined,
      );
      expect(
        joinAuthorisingServer(room.build(member(CAROL, CAROL, 'join')), version),
      ).toBeUndefined();
    }
  });
});

describe('auth rule names', () => {
  it('every rule is asserted by some test in this folder', () => {
    const folder = dirname(fileURLToPath(import.meta.url));
    const tests = readdirSync(folder)
      .filter((name) => name.endsWith('.test.ts'))
      .map((name) => readFileSync(join(folder, name), 'utf8'))
      .join('\n');
    const untested = AUTH_RULES.filter((rule) => !tests.includes(`'${rule}'`));
    expect(untested).toEqual([]);
  });

  it('room version 12 create events are found by room ID in a state without auth events', () => {
    const version = versionById('12');
    const room = standardRoom(version);
    const join = room.build(member(CAROL, CAROL, 'join'));
    expect(join.authEventIds).not.toContain(room.create.eventId);
    expect(room.roomId).toBe(`!${room.create.eventId.slice(1)}`);
  });
});
