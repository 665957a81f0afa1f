import { describe, expect, it } from 'vitest';
import { requireRoomVersion } from '../../protocol/room-versions.js';
import {
  normalizePowerLevels,
  restrictedPowerLevels,
  upgradedPowerLevels,
  userLevelIn,
} from './upgrade-power-levels.js';

const ALICE = '@alice:a.test';
const BOB = '@bob:a.test';
const v = requireRoomVersion;

describe('normalizePowerLevels', () => {
  it('writes the stringy and floaty levels of old rooms as integers and drops invalid ones', () => {
    expect(
      normalizePowerLevels(
        {
          ban: ' 50 ',
          kick: 'x',
          users_default: 0,
          events: { 'm.room.name': '+75', 'm.room.topic': 12.9, bad: 'no' },
          users: { [ALICE]: '100' },
          notifications: 'not an object',
          historical: '100',
          other: 'kept',
        },
        v('1'),
      ),
    ).toEqual({
      ban: 50,
      users_default: 0,
      events: { 'm.room.name': 75, 'm.room.topic': 12 },
      users: { [ALICE]: 100 },
      historical: 100,
      other: 'kept',
    });
  });

  it('keeps integer levels of strict rooms unchanged', () => {
    const levels = { ban: 50, users: { [ALICE]: 100 }, events: { 'm.room.tombstone': 150 } };
    expect(normalizePowerLevels(levels, v('12'))).toEqual(levels);
  });
});

describe('upgradedPowerLevels', () => {
  const levels = {
    users: { [ALICE]: 100, [BOB]: 50 },
    users_default: 0,
    state_default: 50,
    ban: 50,
    events: { 'm.room.power_levels': 100, 'm.room.tombstone': 100 },
  };

  it('copies the levels between v1–11 rooms when the upgrader can copy the state', () => {
    expect(
      upgradedPowerLevels({
        levels,
        oldVersion: v('10'),
        newVersion: v('11'),
        upgrader: ALICE,
        additionalCreators: [],
      }),
    ).toEqual({ initial: levels });
  });

  it('raises a less powerful upgrader to copy the state, then gives the real levels', () => {
    const lowTombstone = { ...levels, events: { ...levels.events, 'm.room.tombstone': 50 } };
    const upgraded = upgradedPowerLevels({
      levels: lowTombstone,
      oldVersion: v('10'),
      newVersion: v('11'),
      upgrader: BOB,
      additionalCreators: [],
    });
    expect(userLevelIn(upgraded.initial, BOB)).toBe(100);
    expect(upgraded.final).toEqual(lowTombstone);
  });

  it('drops the new creators from users when upgrading to v12', () => {
    expect(
      upgradedPowerLevels({
        levels,
        oldVersion: v('11'),
        newVersion: v('12'),
        upgrader: ALICE,
        additionalCreators: [BOB],
      }),
    ).toEqual({ initial: { ...levels, users: {} } });
  });

  it('lists the upgrader at the highest level when upgrading from v12 to an older version', () => {
    const v12Levels = { ...levels, users: { [BOB]: 50 }, events: { 'm.room.tombstone': 150 } };
    expect(
      upgradedPowerLevels({
        levels: v12Levels,
        oldVersion: v('12'),
        newVersion: v('11'),
        upgrader: ALICE,
        additionalCreators: [BOB],
      }),
    ).toEqual({ initial: { ...v12Levels, users: { [BOB]: 50, [ALICE]: 150 } } });
  });
});

describe('restrictedPowerLevels', () => {
  it('raises events_default and invite to the greater of 50 and users_default + 1', () => {
    expect(restrictedPowerLevels({ events_default: 0, invite: 0 })).toEqual({
      events_default: 50,
      invite: 50,
    });
    expect(restrictedPowerLevels({ users_default: 60, invite: 100 })).toEqual({
      events_default: 61,
    });
    expect(restrictedPowerLevels({ events_default: 50, invite: 50 })).toBeUndefined();
  });
});
