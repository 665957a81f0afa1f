/**
 * Room versions 1–12 as data (rooms/v1 … v12). Each version is the previous one plus what changed,
 * expressed as rule flags; code that depends on a room version must branch on these flags, never
 * on the version string, so that a new version is one more entry here.
 */

import { MatrixError } from '../core/errors.js';

/** Content keys kept by redaction for one event type: a key list, or `'all'` for the whole content. */
export type RedactionContentRule = readonly string[] | 'all';

/** What the redaction algorithm keeps (rooms/fragments/v*-redactions). */
export interface RedactionRules {
  /** Top-level event keys that survive redaction. */
  readonly topLevelKeys: readonly string[];
  /** Content keys that survive, per event type; types not listed keep an empty content. */
  readonly contentKeys: Readonly<Record<string, RedactionContentRule>>;
  /** `m.room.member` keeps `third_party_invite.signed` (and only that) from `third_party_invite` (v11+). */
  readonly keepThirdPartyInviteSigned: boolean;
}

export interface RoomVersion {
  readonly id: string;
  /** Stable versions may be used by rooms safely; unstable ones are experimental or deprecated. */
  readonly stability: 'stable' | 'unstable';
  /**
   * How events are identified and referenced:
   * - `'v1'`: `$opaque:domain` chosen by the sending server and carried in `event_id`;
   *   `prev_events`/`auth_events` are `[event_id, {sha256}]` pairs (v1–2).
   * - `'v3'`: `$` + the reference hash in standard unpadded base64, no `event_id` on the wire;
   *   `prev_events`/`auth_events` are plain event ID lists (v3).
   * - `'v4'`: as `'v3'` but URL-safe unpadded base64 (v4+).
   */
  readonly eventIdFormat: 'v1' | 'v3' | 'v4';
  /** `'v1'` (v1), `'v2'` (v2–11), `'v2.1'` = v2 starting from an empty state map plus the conflicted state subgraph (v12). */
  readonly stateResolution: 'v1' | 'v2' | 'v2.1';
  /** Events also need a signature from the server in the `event_id` domain (v1–2). */
  readonly requireEventIdDomainSignature: boolean;
  /**
   * The auth rules check `m.room.redaction` against the redact level / event ID domains (v1–2
   * rule 11). From v3 redactions always pass auth and are checked when applied instead.
   */
  readonly redactionAuthRule: boolean;
  /** Signing keys must be valid (`valid_until_ts`, capped at 7 days) at `origin_server_ts` (v5+). */
  readonly enforceKeyValidity: boolean;
  /** Auth rules special-case `m.room.aliases` (state key = sender's domain), and redaction keeps `aliases` (v1–5). */
  readonly specialCaseAliasesAuth: boolean;
  /**
   * Events must be strict canonical JSON (v6+): integers only, within ±(2^53−1) (so `depth` too,
   * instead of 2^63−1), and no float power levels. Earlier versions must tolerate such events.
   */
  readonly strictCanonicalJson: boolean;
  /** Power level changes to `notifications` are checked like `events` (v6+). */
  readonly limitNotificationsPowerLevels: boolean;
  /** `knock` join rule and membership (v7+). */
  readonly knockJoinRule: boolean;
  /** `restricted` join rule and `join_authorised_via_users_server` (v8+). */
  readonly restrictedJoinRule: boolean;
  /** `knock_restricted` join rule (v10+). */
  readonly knockRestrictedJoinRule: boolean;
  /** Power level values must be integers, not strings (v10+). */
  readonly integerPowerLevels: boolean;
  /**
   * The create event has no `content.creator`; the creator is the create event's `sender` (v11+):
   * auth rule "create needs `creator`" is dropped and the first join is checked against `sender`.
   */
  readonly implicitRoomCreator: boolean;
  /** `m.room.redaction` carries `redacts` in `content` instead of at the top level (v11+). */
  readonly redactsInContent: boolean;
  readonly redactionRules: RedactionRules;
  /**
   * The room ID is `!` + the create event's reference hash, URL-safe (v12+). The create event has
   * no `room_id`, and must not be listed in other events' `auth_events` (the room ID implies it).
   */
  readonly roomIdFromCreateEvent: boolean;
  /**
   * Room creators (create `sender` plus `content.additional_creators`) have infinite power level
   * and may not appear in the power levels `users` map (v12+).
   */
  readonly privilegedCreators: boolean;
}

const POWER_LEVELS_V1 = [
  'ban',
  'events',
  'events_default',
  'kick',
  'redact',
  'state_default',
  'users',
  'users_default',
] as const;

// rooms/fragments/v1-redactions
const REDACTION_V1: RedactionRules = {
  topLevelKeys: [
    'event_id',
    'type',
    'room_id',
    'sender',
    'state_key',
    'content',
    'hashes',
    'signatures',
    'depth',
    'prev_events',
    'prev_state',
    'auth_events',
    'origin',
    'origin_server_ts',
    'membership',
  ],
  contentKeys: {
    'm.room.member': ['membership'],
    'm.room.create': ['creator'],
    'm.room.join_rules': ['join_rule'],
    'm.room.power_levels': POWER_LEVELS_V1,
    'm.room.aliases': ['aliases'],
    'm.room.history_visibility': ['history_visibility'],
  },
  keepThirdPartyInviteSigned: false,
};

// v6: m.room.aliases loses its special meaning.
const REDACTION_V6: RedactionRules = {
  ...REDACTION_V1,
  contentKeys: withoutKey(REDACTION_V1.contentKeys, 'm.room.aliases'),
};

// v8: join rules keep `allow`.
const REDACTION_V8: RedactionRules = {
  ...REDACTION_V6,
  contentKeys: { ...REDACTION_V6.contentKeys, 'm.room.join_rules': ['join_rule', 'allow'] },
};

// v9: members keep `join_authorised_via_users_server`.
const REDACTION_V9: RedactionRules = {
  ...REDACTION_V8,
  contentKeys: {
    ...REDACTION_V8.contentKeys,
    'm.room.member': ['membership', 'join_authorised_via_users_server'],
  },
};

// v11 (rooms/fragments/v11-redactions): origin, membership and prev_state are no longer kept.
const REDACTION_V11: RedactionRules = {
  topLevelKeys: REDACTION_V9.topLevelKeys.filter(
    (key) => key !== 'origin' && key !== 'membership' && key !== 'prev_state',
  ),
  contentKeys: {
    ...REDACTION_V9.contentKeys,
    'm.room.create': 'all',
    'm.room.power_levels': [...POWER_LEVELS_V1, 'invite'],
    'm.room.redaction': ['redacts'],
  },
  keepThirdPartyInviteSigned: true,
};

const V1: RoomVersion = {
  id: '1',
  stability: 'stable',
  eventIdFormat: 'v1',
  stateResolution: 'v1',
  requireEventIdDomainSignature: true,
  redactionAuthRule: true,
  enforceKeyValidity: false,
  specialCaseAliasesAuth: true,
  strictCanonicalJson: false,
  limitNotificationsPowerLevels: false,
  knockJoinRule: false,
  restrictedJoinRule: false,
  knockRestrictedJoinRule: false,
  integerPowerLevels: false,
  implicitRoomCreator: false,
  redactsInContent: false,
  redactionRules: REDACTION_V1,
  roomIdFromCreateEvent: false,
  privilegedCreators: false,
};

const V2 = next(V1, '2', { stateResolution: 'v2' });
const V3 = next(V2, '3', {
  eventIdFormat: 'v3',
  requireEventIdDomainSignature: false,
  redactionAuthRule: false,
});
const V4 = next(V3, '4', { eventIdFormat: 'v4' });
const V5 = next(V4, '5', { enforceKeyValidity: true });
const V6 = next(V5, '6', {
  specialCaseAliasesAuth: false,
  strictCanonicalJson: true,
  limitNotificationsPowerLevels: true,
  redactionRules: REDACTION_V6,
});
const V7 = next(V6, '7', { knockJoinRule: true });
const V8 = next(V7, '8', { restrictedJoinRule: true, redactionRules: REDACTION_V8 });
const V9 = next(V8, '9', { redactionRules: REDACTION_V9 });
const V10 = next(V9, '10', { knockRestrictedJoinRule: true, integerPowerLevels: true });
const V11 = next(V10, '11', {
  implicitRoomCreator: true,
  redactsInContent: true,
  redactionRules: REDACTION_V11,
});
const V12 = next(V11, '12', {
  stateResolution: 'v2.1',
  roomIdFromCreateEvent: true,
  privilegedCreators: true,
});

/** Every room version this server knows, in spec order. */
export const KNOWN_ROOM_VERSIONS: readonly RoomVersion[] = Object.freeze(
  [V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11, V12].map(deepFreeze),
);

/** The version for new rooms (rooms: "Servers SHOULD use room version 12 as the default"). */
export const DEFAULT_ROOM_VERSION = '12';

const BY_ID: ReadonlyMap<string, RoomVersion> = new Map(KNOWN_ROOM_VERSIONS.map((v) => [v.id, v]));

export function getRoomVersion(id: string): RoomVersion | undefined {
  return BY_ID.get(id);
}

/** Like `getRoomVersion`, but throws `M_UNSUPPORTED_ROOM_VERSION` for unknown versions. */
export function requireRoomVersion(id: string): RoomVersion {
  const version = BY_ID.get(id);
  if (version === undefined) {
    throw new MatrixError('M_UNSUPPORTED_ROOM_VERSION', `Unsupported room version: ${id}`);
  }
  return version;
}

/** The `available` map of the `m.room_versions` capability. */
export function availableRoomVersions(): Record<string, 'stable' | 'unstable'> {
  return Object.fromEntries(KNOWN_ROOM_VERSIONS.map((v) => [v.id, v.stability]));
}

function next(previous: RoomVersion, id: string, changes: Partial<RoomVersion>): RoomVersion {
  return { ...previous, ...changes, id };
}

function withoutKey<T>(record: Readonly<Record<string, T>>, key: string): Record<string, T> {
  return Object.fromEntries(Object.entries(record).filter(([k]) => k !== key));
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
