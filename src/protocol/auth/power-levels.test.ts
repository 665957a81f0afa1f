import { describe, expect, it } from 'vitest';
import type { JsonObject, JsonValue } from '../../core/canonical-json.js';
import { stateKeyOf } from '../room-event.js';
import type { RoomEvent, StateKey } from '../room-event.js';
import { KNOWN_ROOM_VERSIONS } from '../room-versions.js';
import type { RoomVersion } from '../room-versions.js';
import {
  INFINITE_POWER_LEVEL,
  PowerLevels,
  namedPowerLevel,
  parsePowerLevel,
  requiredPowerLevel,
  roomCreators,
  userPowerLevel,
} from './power-levels.js';
import { ALICE, BOB, CAROL, DAVE, TestRoom, member } from './test-room.js';

const VERSIONS = KNOWN_ROOM_VERSIONS.map((v) => [v.id, v] as const);

/** A room with its creator joined and, if given, a power levels event (forced: any content). */
function roomWith(
  version: RoomVersion,
  options: { powerLevels?: JsonObject; create?: JsonObject } = {},
): Map<StateKey, RoomEvent> {
  const room = new TestRoom(version, { content: options.create ?? {} });
  room.force(member(ALICE, ALICE, 'join'));
  if (options.powerLevels !== undefined) {
    room.force({
      type: 'm.room.power_levels',
      sender: ALICE,
      stateKey: '',
      content: options.powerLevels,
    });
  }
  return room.state;
}

describe.each(VERSIONS)('room version %s', (_id, v) => {
  describe('parsePowerLevel', () => {
    // [value, v1–5 (floats and strings), v6–9 (strings), v10+ (integers only)]
    const cases: [
      JsonValue | undefined,
      number | undefined,
      number | undefined,
      number | undefined,
    ][] = [
      [50, 50, 50, 50],
      [-7, -7, -7, -7],
      [0, 0, 0, 0],
      ['50', 50, 50, undefined],
      [' +050 ', 50, 50, undefined],
      ['-0010', -10, -10, undefined],
      ['\t12\n', 12, 12, undefined],
      ['5.5', undefined, undefined, undefined],
      ['1e2', undefined, undefined, undefined],
      ['0x10', undefined, undefined, undefined],
      ['1_000', undefined, undefined, undefined],
      ['+-5', undefined, undefined, undefined],
      ['', undefined, undefined, undefined],
      [50.57, 50, undefined, undefined],
      [-5.5, -5, undefined, undefined],
      [5.114698e4, 51146, undefined, undefined],
      [2 ** 53, 2 ** 53, undefined, undefined],
      [Number.POSITIVE_INFINITY, undefined, undefined, undefined],
      [true, undefined, undefined, undefined],
      [null, undefined, undefined, undefined],
      [{}, undefined, undefined, undefined],
      [[50], undefined, undefined, undefined],
      [undefined, undefined, undefined, undefined],
    ];
    const column = !v.strictCanonicalJson ? 1 : !v.integerPowerLevels ? 2 : 3;
    it.each(cases.map((c) => [JSON.stringify(c[0]) ?? 'undefined', c[0], c[column]] as const))(
      '%s',
      (_name, value, expected) => {
        expect(parsePowerLevel(value, v)).toBe(expected);
      },
    );
  });

  describe('userPowerLevel', () => {
    it('without power levels: the creator has 100 (v1–11) or infinite power (v12), others 0', () => {
      const state = roomWith(v);
      expect(userPowerLevel(ALICE, state, v)).toBe(
        v.privilegedCreators ? INFINITE_POWER_LEVEL : 100,
      );
      expect(userPowerLevel(BOB, state, v)).toBe(0);
    });

    it('without power levels: the creator is content.creator before v11, the sender from v11', () => {
      const state = roomWith(v, { create: { creator: DAVE } });
      const senderLevel = v.privilegedCreators ? INFINITE_POWER_LEVEL : 100;
      expect(userPowerLevel(ALICE, state, v)).toBe(v.implicitRoomCreator ? senderLevel : 0);
      expect(userPowerLevel(DAVE, state, v)).toBe(v.implicitRoomCreator ? 0 : 100);
    });

    it('additional creators have infinite power in v12 only', () => {
      const state = roomWith(v, { create: { additional_creators: [DAVE] }, powerLevels: {} });
      expect(userPowerLevel(DAVE, state, v)).toBe(v.privilegedCreators ? INFINITE_POWER_LEVEL : 0);
    });

    it('with power levels: users, else users_default, else 0; creators stay infinite in v12', () => {
      const state = roomWith(v, { powerLevels: { users: { [BOB]: 30 }, users_default: 5 } });
      expect(userPowerLevel(BOB, state, v)).toBe(30);
      expect(userPowerLevel(CAROL, state, v)).toBe(5);
      expect(userPowerLevel(ALICE, state, v)).toBe(v.privilegedCreators ? INFINITE_POWER_LEVEL : 5);
      expect(userPowerLevel(CAROL, roomWith(v, { powerLevels: {} }), v)).toBe(0);
    });

    it('reads string levels before v10, and invalid values as absent', () => {
      const state = roomWith(v, {
        powerLevels: { users: { [BOB]: '30', [CAROL]: 'x' }, users_default: 5 },
      });
      expect(userPowerLevel(BOB, state, v)).toBe(v.integerPowerLevels ? 5 : 30);
      expect(userPowerLevel(CAROL, state, v)).toBe(5);
    });
  });

  describe('requiredPowerLevel and namedPowerLevel', () => {
    it('without power levels: state events 50, messages 0, kick/ban/redact 50, invite 0', () => {
      const state = roomWith(v);
      expect(requiredPowerLevel('m.room.topic', true, state, v)).toBe(50);
      expect(requiredPowerLevel('m.room.message', false, state, v)).toBe(0);
      expect(
        ['ban', 'kick', 'redact', 'invite'].map((n) => namedPowerLevel(n as 'ban', state, v)),
      ).toEqual([50, 50, 50, 0]);
    });

    it('with power levels: events, else state_default / events_default', () => {
      const state = roomWith(v, {
        powerLevels: {
          state_default: 20,
          events_default: 5,
          events: { 'm.room.topic': 7, 'm.x': 1 },
          ban: 3,
        },
      });
      expect(requiredPowerLevel('m.room.topic', true, state, v)).toBe(7);
      expect(requiredPowerLevel('m.x', false, state, v)).toBe(1);
      expect(requiredPowerLevel('m.room.name', true, state, v)).toBe(20);
      expect(requiredPowerLevel('m.room.message', false, state, v)).toBe(5);
      // Event types named like Object.prototype members are not in events.
      expect(requiredPowerLevel('constructor', false, state, v)).toBe(5);
      expect(requiredPowerLevel('__proto__', true, state, v)).toBe(20);
      expect(namedPowerLevel('ban', state, v)).toBe(3);
      expect(namedPowerLevel('kick', state, v)).toBe(50);
    });

    it('notification levels default to 50', () => {
      const levels = PowerLevels.fromState(
        roomWith(v, { powerLevels: { notifications: { room: 20 } } }),
        v,
      );
      expect(levels.notificationLevel('room')).toBe(20);
      expect(PowerLevels.fromState(roomWith(v), v).notificationLevel('room')).toBe(50);
    });
  });

  it('roomCreators: content.creator (v1–10), sender (v11), sender and additional creators (v12)', () => {
    const room = new TestRoom(v, { content: { creator: DAVE, additional_creators: [BOB, ALICE] } });
    const expected = !v.implicitRoomCreator
      ? [DAVE]
      : v.privilegedCreators
        ? [ALICE, BOB]
        : [ALICE];
    expect(roomCreators(room.create, v)).toEqual(expected);
    expect(room.stateEvent('m.room.create', '')).toBe(room.create);
    expect(stateKeyOf('m.room.create', '')).toBe('["m.room.create",""]');
  });
});
