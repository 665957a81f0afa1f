import { describe, expect, it } from 'vitest';
import { MatrixError } from '../core/errors.js';
import {
  DEFAULT_ROOM_VERSION,
  KNOWN_ROOM_VERSIONS,
  availableRoomVersions,
  getRoomVersion,
  requireRoomVersion,
} from './room-versions.js';
import type { RoomVersion } from './room-versions.js';

const ALL = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12'];
const from = (first: number) => ALL.filter((id) => Number(id) >= first);
const upTo = (last: number) => ALL.filter((id) => Number(id) <= last);

function version(id: string): RoomVersion {
  const v = getRoomVersion(id);
  if (v === undefined) throw new Error(`missing room version ${id}`);
  return v;
}

describe('room version registry', () => {
  it('knows versions 1–12 in order, all stable', () => {
    expect(KNOWN_ROOM_VERSIONS.map((v) => v.id)).toEqual(ALL);
    expect(KNOWN_ROOM_VERSIONS.every((v) => v.stability === 'stable')).toBe(true);
  });

  it('defaults to version 12', () => {
    expect(DEFAULT_ROOM_VERSION).toBe('12');
    expect(getRoomVersion(DEFAULT_ROOM_VERSION)?.id).toBe('12');
  });

  it('returns undefined for unknown versions, including prototype keys', () => {
    for (const id of ['13', '0', '', '1.0', 'org.matrix.msc0000', '__proto__', 'toString']) {
      expect(getRoomVersion(id)).toBeUndefined();
    }
  });

  it('requireRoomVersion throws M_UNSUPPORTED_ROOM_VERSION for unknown versions', () => {
    expect(requireRoomVersion('11').id).toBe('11');
    expect(() => requireRoomVersion('99')).toThrow(MatrixError);
    try {
      requireRoomVersion('99');
    } catch (error) {
      expect((error as MatrixError).errcode).toBe('M_UNSUPPORTED_ROOM_VERSION');
      expect((error as MatrixError).status).toBe(400);
    }
  });

  it('lists the m.room_versions capability map', () => {
    expect(availableRoomVersions()).toEqual(Object.fromEntries(ALL.map((id) => [id, 'stable'])));
  });

  it('is immutable, including nested redaction rules', () => {
    const v = version('1') as unknown as Record<string, unknown>;
    expect(() => {
      v.knockJoinRule = true;
    }).toThrow(TypeError);
    const topLevelKeys = version('1').redactionRules.topLevelKeys as string[];
    expect(() => topLevelKeys.push('unsigned')).toThrow(TypeError);
    expect(version('1').knockJoinRule).toBe(false);
  });
});

describe('room version flags', () => {
  const booleanFlags: [keyof RoomVersion, string[]][] = [
    ['requireEventIdDomainSignature', upTo(2)],
    ['redactionAuthRule', upTo(2)],
    ['enforceKeyValidity', from(5)],
    ['specialCaseAliasesAuth', upTo(5)],
    ['strictCanonicalJson', from(6)],
    ['limitNotificationsPowerLevels', from(6)],
    ['knockJoinRule', from(7)],
    ['restrictedJoinRule', from(8)],
    ['knockRestrictedJoinRule', from(10)],
    ['integerPowerLevels', from(10)],
    ['implicitRoomCreator', from(11)],
    ['redactsInContent', from(11)],
    ['roomIdFromCreateEvent', from(12)],
    ['privilegedCreators', from(12)],
  ];

  it.each(booleanFlags)('%s is set exactly in versions %j', (flag, versions) => {
    const actual = KNOWN_ROOM_VERSIONS.filter((v) => v[flag] === true).map((v) => v.id);
    expect(actual).toEqual(versions);
    for (const v of KNOWN_ROOM_VERSIONS) expect(typeof v[flag]).toBe('boolean');
  });

  it('event ID format: own IDs in v1–2, standard base64 hash in v3, URL-safe from v4', () => {
    expect(KNOWN_ROOM_VERSIONS.map((v) => v.eventIdFormat)).toEqual([
      'v1',
      'v1',
      'v3',
      ...from(4).map(() => 'v4'),
    ]);
  });

  it('state resolution: v1 in v1, v2 in v2–11, v2.1 in v12', () => {
    expect(KNOWN_ROOM_VERSIONS.map((v) => v.stateResolution)).toEqual([
      'v1',
      ...ALL.slice(1, 11).map(() => 'v2'),
      'v2.1',
    ]);
  });
});

describe('redaction rules', () => {
  const keeps = (id: string, type: string) => version(id).redactionRules.contentKeys[type];

  it('v1–10 keep origin, membership and prev_state at the top level; v11+ do not', () => {
    for (const id of upTo(10)) {
      expect(version(id).redactionRules.topLevelKeys).toEqual(
        expect.arrayContaining(['origin', 'membership', 'prev_state']),
      );
    }
    for (const id of from(11)) {
      const keys = version(id).redactionRules.topLevelKeys;
      expect(keys).not.toContain('origin');
      expect(keys).not.toContain('membership');
      expect(keys).not.toContain('prev_state');
      expect(keys).toContain('origin_server_ts');
    }
  });

  it('m.room.aliases keeps aliases in v1–5 only', () => {
    for (const id of upTo(5)) expect(keeps(id, 'm.room.aliases')).toEqual(['aliases']);
    for (const id of from(6)) expect(keeps(id, 'm.room.aliases')).toBeUndefined();
  });

  it('join rules keep allow from v8; members keep join_authorised_via_users_server from v9', () => {
    for (const id of upTo(7)) expect(keeps(id, 'm.room.join_rules')).toEqual(['join_rule']);
    for (const id of from(8))
      expect(keeps(id, 'm.room.join_rules')).toEqual(['join_rule', 'allow']);
    for (const id of upTo(8)) expect(keeps(id, 'm.room.member')).toEqual(['membership']);
    for (const id of from(9)) {
      expect(keeps(id, 'm.room.member')).toEqual([
        'membership',
        'join_authorised_via_users_server',
      ]);
    }
  });

  it('v11+ keep all create content, power levels invite, redaction redacts and 3pid signed', () => {
    for (const id of upTo(10)) {
      expect(keeps(id, 'm.room.create')).toEqual(['creator']);
      expect(keeps(id, 'm.room.power_levels')).not.toContain('invite');
      expect(keeps(id, 'm.room.redaction')).toBeUndefined();
      expect(version(id).redactionRules.keepThirdPartyInviteSigned).toBe(false);
    }
    for (const id of from(11)) {
      expect(keeps(id, 'm.room.create')).toBe('all');
      expect(keeps(id, 'm.room.power_levels')).toContain('invite');
      expect(keeps(id, 'm.room.redaction')).toEqual(['redacts']);
      expect(version(id).redactionRules.keepThirdPartyInviteSigned).toBe(true);
    }
  });

  it('v12 redacts exactly like v11', () => {
    expect(version('12').redactionRules).toEqual(version('11').redactionRules);
  });
});
