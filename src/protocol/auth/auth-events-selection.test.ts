import { describe, expect, it } from 'vitest';
import { stateKeyOf } from '../room-event.js';
import type { RoomEvent } from '../room-event.js';
import { KNOWN_ROOM_VERSIONS } from '../room-versions.js';
import type { RoomVersion } from '../room-versions.js';
import { authEventKeysFor, checkAuthEventsList } from './auth-events-selection.js';
import type { AuthResult } from './authorize-event.js';
import { ALICE, BOB, CAROL, MOD, TestRoom, member, standardRoom } from './test-room.js';
import type { EventSpec } from './test-room.js';

const CREATE = stateKeyOf('m.room.create', '');
const POWER_LEVELS = stateKeyOf('m.room.power_levels', '');
const JOIN_RULES = stateKeyOf('m.room.join_rules', '');
const memberOf = (userId: string) => stateKeyOf('m.room.member', userId);

function keysFor(spec: EventSpec, version: RoomVersion): string[] {
  return authEventKeysFor(
    { type: spec.type, stateKey: spec.stateKey, sender: spec.sender, content: spec.content ?? {} },
    version,
  );
}

function outcome(result: AuthResult): string {
  return result.allowed ? 'allowed' : result.rule;
}

const notRejected = () => false;
const message: EventSpec = { type: 'm.room.message', sender: BOB, content: { body: 'hi' } };

describe.each(KNOWN_ROOM_VERSIONS.map((v) => [v.id, v] as const))('room version %s', (_id, v) => {
  // The create event is selected until the room ID names it (v12).
  const base = v.roomIdFromCreateEvent ? [] : [CREATE];

  describe('authEventKeysFor', () => {
    it('selects nothing for the create event', () => {
      expect(keysFor({ type: 'm.room.create', sender: ALICE, stateKey: '' }, v)).toEqual([]);
    });

    it("selects the create event, power levels and the sender's membership for a message", () => {
      expect(keysFor(message, v)).toEqual([...base, POWER_LEVELS, memberOf(BOB)]);
    });

    it('adds the join rules for a join, once for sender and target', () => {
      expect(keysFor(member(CAROL, CAROL, 'join'), v)).toEqual([
        ...base,
        POWER_LEVELS,
        memberOf(CAROL),
        JOIN_RULES,
      ]);
    });

    it("adds the target's membership and the join rules for an invite", () => {
      expect(keysFor(member(ALICE, CAROL, 'invite'), v)).toEqual([
        ...base,
        POWER_LEVELS,
        memberOf(ALICE),
        memberOf(CAROL),
        JOIN_RULES,
      ]);
    });

    it('adds the join rules for a knock', () => {
      expect(keysFor(member(CAROL, CAROL, 'knock'), v)).toContain(JOIN_RULES);
    });

    it('adds no join rules for a kick or a ban', () => {
      for (const membership of ['leave', 'ban']) {
        expect(keysFor(member(MOD, BOB, membership), v)).toEqual([
          ...base,
          POWER_LEVELS,
          memberOf(MOD),
          memberOf(BOB),
        ]);
      }
    });

    it('adds the third-party invite of the signed token for a third-party invite', () => {
      const spec = member(ALICE, CAROL, 'invite', {
        third_party_invite: { display_name: 'c', signed: { mxid: CAROL, token: 'tok' } },
      });
      expect(keysFor(spec, v)).toEqual([
        ...base,
        POWER_LEVELS,
        memberOf(ALICE),
        memberOf(CAROL),
        JOIN_RULES,
        stateKeyOf('m.room.third_party_invite', 'tok'),
      ]);
    });

    it("adds the authorising user's membership for a restricted join (v8+)", () => {
      const spec = member(CAROL, CAROL, 'join', { join_authorised_via_users_server: MOD });
      const expected = [...base, POWER_LEVELS, memberOf(CAROL), JOIN_RULES];
      if (v.restrictedJoinRule) expected.push(memberOf(MOD));
      expect(keysFor(spec, v)).toEqual(expected);
    });
  });

  describe('checkAuthEventsList', () => {
    function selected(
      room: TestRoom,
      spec: EventSpec,
    ): { event: RoomEvent; authEvents: RoomEvent[] } {
      return { event: room.build(spec), authEvents: room.selectAuthEvents(spec) };
    }

    it('allows the auth events selection: allowed', () => {
      const room = standardRoom(v);
      const { event, authEvents } = selected(room, member(CAROL, CAROL, 'join'));
      expect(authEvents.length).toBe(v.roomIdFromCreateEvent ? 2 : 3);
      expect(outcome(checkAuthEventsList(event, authEvents, v, notRejected))).toBe('allowed');
    });

    it('allows a create event: allowed', () => {
      const room = new TestRoom(v);
      expect(outcome(checkAuthEventsList(room.create, [], v, notRejected))).toBe('allowed');
    });

    it('rejects two entries for one (type, state_key): auth_events.duplicate', () => {
      const room = standardRoom(v);
      const oldJoin = room.stateEvent('m.room.member', BOB) as RoomEvent;
      room.send(member(BOB, BOB, 'join', { displayname: 'Bob' }));
      const { event, authEvents } = selected(room, message);
      expect(outcome(checkAuthEventsList(event, [...authEvents, oldJoin], v, notRejected))).toBe(
        'auth_events.duplicate',
      );
    });

    it('rejects an entry the selection does not name: auth_events.not_selected', () => {
      const room = standardRoom(v);
      const { event, authEvents } = selected(room, message);
      const joinRules = room.stateEvent('m.room.join_rules', '') as RoomEvent;
      expect(outcome(checkAuthEventsList(event, [...authEvents, joinRules], v, notRejected))).toBe(
        'auth_events.not_selected',
      );
    });

    it('rejects a message event among the entries: auth_events.not_selected', () => {
      const room = standardRoom(v);
      const other = room.send(message);
      const { event, authEvents } = selected(room, message);
      expect(outcome(checkAuthEventsList(event, [...authEvents, other], v, notRejected))).toBe(
        'auth_events.not_selected',
      );
    });

    it('treats the create event among the entries per version', () => {
      const room = standardRoom(v);
      const { event, authEvents } = selected(room, message);
      const withCreate = v.roomIdFromCreateEvent ? [...authEvents, room.create] : authEvents;
      // v12 3.2: "In this room version, m.room.create MUST NOT be selected."
      expect(outcome(checkAuthEventsList(event, withCreate, v, notRejected))).toBe(
        v.roomIdFromCreateEvent ? 'auth_events.not_selected' : 'allowed',
      );
    });

    it('rejects a rejected entry: auth_events.rejected', () => {
      const room = standardRoom(v);
      const { event, authEvents } = selected(room, message);
      const powerLevels = room.stateEvent('m.room.power_levels', '') as RoomEvent;
      const isRejected = (id: string) => id === powerLevels.eventId;
      expect(outcome(checkAuthEventsList(event, authEvents, v, isRejected))).toBe(
        'auth_events.rejected',
      );
    });

    it('requires the create event among the entries before v12', () => {
      const room = standardRoom(v);
      const { event, authEvents } = selected(room, message);
      const withoutCreate = authEvents.filter((e) => e.type !== 'm.room.create');
      expect(outcome(checkAuthEventsList(event, withoutCreate, v, notRejected))).toBe(
        v.roomIdFromCreateEvent ? 'allowed' : 'auth_events.missing_create',
      );
    });

    it('rejects an entry from another room: auth_events.wrong_room', () => {
      const room = standardRoom(v);
      const other = standardRoom(v, {
        create: { roomId: '!other:a.test', content: { other: true } },
      });
      const { event, authEvents } = selected(room, message);
      const foreign = other.stateEvent('m.room.power_levels', '') as RoomEvent;
      const mixed = authEvents.map((e) => (e.type === 'm.room.power_levels' ? foreign : e));
      expect(outcome(checkAuthEventsList(event, mixed, v, notRejected))).toBe(
        'auth_events.wrong_room',
      );
    });
  });
});
