/**
 * The authorization rules of room versions 1–12 (rooms/v1 … v12 "Authorization rules";
 * server-server API "Checks performed on receipt of a PDU"), as one pure function over an event
 * and a state. Differences between versions are read from the room version's rule flags.
 *
 * Rule numbers in comments are those of the version that introduced the rule, e.g. "v1 5.2.3"
 * (rooms/fragments/v1-auth-rules); later versions renumber them (v3 drops the redaction rule,
 * v6 the aliases rule, v12 inserts a rule 2).
 *
 * Two rules are not checked here because they need more than the event and a state:
 * - the checks on the `auth_events` list itself (v1 2.1–2.5, v12 3.1–3.5): `checkAuthEventsList`
 *   in auth-events-selection.ts;
 * - v8 4.2, the signature of the server of `join_authorised_via_users_server`: the signature
 *   checks must verify it (`joinAuthorisingServer` names the server); here we only reject values
 *   that cannot name a server.
 */

import { isValidUserId } from '../../core/identifiers.js';
import type { JsonObject, JsonValue } from '../../core/canonical-json.js';
import { stateKeyOf } from '../room-event.js';
import type { RoomEvent } from '../room-event.js';
import { getRoomVersion } from '../room-versions.js';
import type { RoomVersion } from '../room-versions.js';
import { verifyJsonSignature } from '../signing.js';
import {
  CREATE_KEY,
  JOIN_RULES_KEY,
  POWER_LEVELS_KEY,
  domainOf,
  isJsonObject,
  membershipIn,
  ownValue,
} from './auth-state.js';
import type { AuthState } from './auth-state.js';
import { NAMED_POWER_LEVELS, PowerLevels, parsePowerLevel, roomCreators } from './power-levels.js';

export type { AuthState } from './auth-state.js';
export { buildAuthState } from './auth-state.js';

/** Every rule that can reject an event, by a stable name (see the checks for the spec text). */
export const AUTH_RULES = [
  // m.room.create (v1 1, v12 1)
  'create.has_prev_events',
  'create.room_id_domain',
  'create.has_room_id',
  'create.unknown_room_version',
  'create.missing_creator',
  'create.invalid_additional_creators',
  // The auth_events list (v1 2, v12 3): checkAuthEventsList
  'auth_events.duplicate',
  'auth_events.not_selected',
  'auth_events.rejected',
  'auth_events.missing_create',
  'auth_events.wrong_room',
  // The room's create event (v1 2.4 via the state, v12 2) and m.federate (v1 3)
  'room.no_create_event',
  'room.create_event_mismatch',
  'room.not_federated',
  // m.room.aliases (v1–5 rule 4)
  'aliases.no_state_key',
  'aliases.state_key_mismatch',
  // m.room.member (v1 5, v8 4)
  'member.missing_state_key_or_membership',
  'member.authorising_user_invalid',
  'member.join.sender_not_target',
  'member.join.banned',
  'member.join.not_invited',
  'member.join.authoriser_missing',
  'member.join.authoriser_not_joined',
  'member.join.authoriser_cannot_invite',
  'member.join.join_rule',
  'member.third_party_invite.target_banned',
  'member.third_party_invite.no_signed',
  'member.third_party_invite.no_mxid_or_token',
  'member.third_party_invite.mxid_mismatch',
  'member.third_party_invite.no_invite_event',
  'member.third_party_invite.sender_mismatch',
  'member.third_party_invite.bad_signature',
  'member.invite.sender_not_joined',
  'member.invite.target_joined_or_banned',
  'member.invite.insufficient_power',
  'member.leave.not_member',
  'member.leave.sender_not_joined',
  'member.leave.unban_insufficient_power',
  'member.leave.kick_insufficient_power',
  'member.ban.sender_not_joined',
  'member.ban.insufficient_power',
  'member.knock.join_rule',
  'member.knock.sender_not_target',
  'member.knock.banned_invited_or_joined',
  'member.unknown_membership',
  // Every other event (v1 6–12)
  'sender.not_joined',
  'third_party_invite.insufficient_power',
  'event.power_too_low',
  'event.state_key_not_sender',
  'power_levels.invalid_level',
  'power_levels.invalid_events',
  'power_levels.invalid_users',
  'power_levels.creator_in_users',
  'power_levels.named_current_above_own',
  'power_levels.named_new_above_own',
  'power_levels.event_current_above_own',
  'power_levels.event_new_above_own',
  'power_levels.user_current_not_below_own',
  'power_levels.raise_above_own',
  'redaction.insufficient_power',
] as const;

export type AuthRule = (typeof AUTH_RULES)[number];

export type AuthResult = { allowed: true } | { allowed: false; rule: AuthRule; reason: string };

const ALLOWED: AuthResult = Object.freeze({ allowed: true });

function deny(rule: AuthRule, reason: string): AuthResult {
  return { allowed: false, rule, reason };
}

/**
 * Whether `event` is allowed by the authorization rules of `roomVersion` against `state`: its
 * auth events (plus, in v12, the create event found by room ID), the state before it, or the
 * current state (soft failure). See `AuthState` for what the state must hold.
 */
export function authorizeEvent(
  event: RoomEvent,
  state: AuthState,
  roomVersion: RoomVersion,
): AuthResult {
  // v1 1: the create event is checked on its own, before anything reads the state.
  if (event.type === 'm.room.create') return authorizeCreate(event, roomVersion);

  const create = state.get(CREATE_KEY);
  // v1 2.4 "If there is no m.room.create event among the entries, reject"; v12 2 "If the event's
  // room_id is not an event ID for an accepted m.room.create event, reject" (the caller supplies
  // it only if it is accepted).
  if (create === undefined) return deny('room.no_create_event', 'the room has no create event');
  if (roomVersion.roomIdFromCreateEvent && create.roomId !== event.roomId) {
    return deny('room.create_event_mismatch', `room ID ${event.roomId} is not ${create.eventId}`);
  }

  // v1 3: "If the content of the m.room.create event in the room state has the property
  // m.federate set to false, and the sender domain of the event does not match the sender domain
  // of the create event, reject."
  if (
    ownValue(create.content, 'm.federate') === false &&
    domainOf(event.sender) !== domainOf(create.sender)
  ) {
    return deny(
      'room.not_federated',
      `the room is not federated beyond ${domainOf(create.sender)}`,
    );
  }

  // v1 4 (v1–5 only): aliases are the business of the server named by the state key.
  if (roomVersion.specialCaseAliasesAuth && event.type === 'm.room.aliases') {
    // v1 4.1 "If event has no state_key, reject."
    if (event.stateKey === undefined) return deny('aliases.no_state_key', 'no state_key');
    // v1 4.2 "If sender's domain doesn't match state_key, reject."
    if (domainOf(event.sender) !== event.stateKey) {
      return deny('aliases.state_key_mismatch', "state_key is not the sender's server name");
    }
    return ALLOWED; // v1 4.3
  }

  const levels = new PowerLevels(state.get(POWER_LEVELS_KEY), create, roomVersion);

  // v1 5: membership changes have their own rules.
  if (event.type === 'm.room.member') {
    return authorizeMember(event, state, create, levels, roomVersion);
  }

  // v1 6 "If the sender's current membership state is not join, reject."
  if (membershipIn(state, event.sender) !== 'join') {
    return deny('sender.not_joined', `${event.sender} is not joined to the room`);
  }

  const senderLevel = levels.userLevel(event.sender);

  // v1 7.1 "Allow if and only if sender's current power level is greater than or equal to the
  // invite level."
  if (event.type === 'm.room.third_party_invite') {
    if (senderLevel >= levels.named('invite')) return ALLOWED;
    return deny('third_party_invite.insufficient_power', 'sender is below the invite level');
  }

  // v1 8 "If the event type's required power level is greater than the sender's power level,
  // reject."
  const required = levels.eventLevel(event.type, event.stateKey !== undefined);
  if (required > senderLevel) {
    return deny(
      'event.power_too_low',
      `${event.type} needs power level ${required}, sender has ${senderLevel}`,
    );
  }

  // v1 9 "If the event has a state_key that starts with an @ and does not match the sender,
  // reject."
  if (event.stateKey !== undefined && event.stateKey.startsWith('@')) {
    if (event.stateKey !== event.sender) {
      return deny('event.state_key_not_sender', 'a state_key starting with @ must be the sender');
    }
  }

  // v1 10
  if (event.type === 'm.room.power_levels') {
    return authorizePowerLevels(event, create, levels, senderLevel, roomVersion);
  }

  // v1 11 (v1–2 only): redactions need the redact level or the same server as the redacted event.
  if (roomVersion.redactionAuthRule && event.type === 'm.room.redaction') {
    // v1 11.1 "If the sender's power level is greater than or equal to the redact level, allow."
    if (senderLevel >= levels.named('redact')) return ALLOWED;
    // v1 11.2 "If the domain of the event_id of the event being redacted is the same as the
    // domain of the event_id of the m.room.redaction, allow."
    const redactedDomain = event.redacts === undefined ? undefined : domainOf(event.redacts);
    if (redactedDomain !== undefined && redactedDomain === domainOf(event.eventId)) return ALLOWED;
    // v1 11.3
    return deny(
      'redaction.insufficient_power',
      'sender is below the redact level and the redacted event is from another server',
    );
  }

  return ALLOWED; // v1 12
}

// ---------------------------------------------------------------------------------------------
// m.room.create

function authorizeCreate(event: RoomEvent, roomVersion: RoomVersion): AuthResult {
  // v1 1.1 "If it has any prev_events, reject."
  if (event.prevEventIds.length > 0) {
    return deny('create.has_prev_events', 'a create event has no prev_events');
  }
  if (roomVersion.roomIdFromCreateEvent) {
    // v12 1.2 "If the event has a room_id, reject." (the room ID is the event's hash)
    if (Object.hasOwn(event.pdu, 'room_id')) {
      return deny('create.has_room_id', 'the room ID derives from the create event');
    }
  } else if (domainOf(event.roomId) !== domainOf(event.sender)) {
    // v1 1.2 "If the domain of the room_id does not match the domain of the sender, reject."
    return deny('create.room_id_domain', "the room ID is not on the sender's server");
  }
  // v1 1.3 "If content.room_version is present and is not a recognised version, reject."
  if (Object.hasOwn(event.content, 'room_version')) {
    const version = event.content.room_version;
    if (typeof version !== 'string' || getRoomVersion(version) === undefined) {
      return deny('create.unknown_room_version', `unknown room version ${JSON.stringify(version)}`);
    }
  }
  // v1 1.4 "If content has no creator property, reject." (dropped in v11)
  if (!roomVersion.implicitRoomCreator && !Object.hasOwn(event.content, 'creator')) {
    return deny('create.missing_creator', 'content has no creator');
  }
  // v12 1.4 "If additional_creators is present in content and is not an array of strings where
  // each string passes the same user ID validation applied to sender, reject."
  if (roomVersion.privilegedCreators && Object.hasOwn(event.content, 'additional_creators')) {
    const additional = event.content.additional_creators;
    if (!Array.isArray(additional) || !additional.every((user) => isValidUserId(user))) {
      return deny(
        'create.invalid_additional_creators',
        'additional_creators must be a list of user IDs',
      );
    }
  }
  return ALLOWED; // v1 1.5
}

// ---------------------------------------------------------------------------------------------
// m.room.member

function authorizeMember(
  event: RoomEvent,
  state: AuthState,
  create: RoomEvent,
  levels: PowerLevels,
  roomVersion: RoomVersion,
): AuthResult {
  const target = event.stateKey;
  const membership = ownValue(event.content, 'membership');
  // v1 5.1 "If there is no state_key property, or no membership property in content, reject."
  if (target === undefined || membership === undefined) {
    return deny('member.missing_state_key_or_membership', 'no state_key or no membership');
  }

  // v8 4.2.1 "If the event is not validly signed by the homeserver of the user ID denoted by the
  // key, reject." The signature is checked with the event's signatures (joinAuthorisingServer);
  // a value that is not a user ID names no homeserver, so nothing can have signed for it.
  if (roomVersion.restrictedJoinRule && Object.hasOwn(event.content, AUTHORISING_USER)) {
    if (!isValidUserId(event.content[AUTHORISING_USER])) {
      return deny('member.authorising_user_invalid', `${AUTHORISING_USER} is not a user ID`);
    }
  }

  switch (membership) {
    case 'join':
      return authorizeJoin(event, target, state, create, levels, roomVersion);
    case 'invite':
      return authorizeInvite(event, target, state, levels);
    case 'leave':
      return authorizeLeave(event, target, state, levels, roomVersion);
    case 'ban':
      return authorizeBan(event, target, state, levels);
    case 'knock':
      if (roomVersion.knockJoinRule) return authorizeKnock(event, target, state, roomVersion);
      break;
  }
  // v1 5.6 "Otherwise, the membership is unknown. Reject."
  return deny('member.unknown_membership', `unknown membership ${JSON.stringify(membership)}`);
}

const AUTHORISING_USER = 'join_authorised_via_users_server';

/**
 * The join rule of the state. Without a join rules event (or without `join_rule` in it) the room
 * is treated as invite-only, as Synapse and Ruma do: the spec's rules then reject every join but
 * those of invited or joined users, which is what "invite" allows.
 */
function joinRuleOf(state: AuthState): string {
  const rule = ownValue(state.get(JOIN_RULES_KEY)?.content, 'join_rule');
  return typeof rule === 'string' ? rule : rule === undefined ? 'invite' : '';
}

function authorizeJoin(
  event: RoomEvent,
  target: string,
  state: AuthState,
  create: RoomEvent,
  levels: PowerLevels,
  roomVersion: RoomVersion,
): AuthResult {
  // v1 5.2.1 "If the only previous event is an m.room.create and the state_key is the creator,
  // allow." v11: "… the state_key is the sender of the m.room.create".
  if (
    event.prevEventIds.length === 1 &&
    event.prevEventIds[0] === create.eventId &&
    target === firstJoinCreator(create, roomVersion)
  ) {
    return ALLOWED;
  }
  // v1 5.2.2 "If the sender does not match state_key, reject."
  if (event.sender !== target) {
    return deny('member.join.sender_not_target', 'users can only join themselves');
  }
  const current = membershipIn(state, target);
  // v1 5.2.3 "If the sender is banned, reject."
  if (current === 'ban') return deny('member.join.banned', `${target} is banned`);

  const joinRule = joinRuleOf(state);
  // v1 5.2.4 "If the join_rule is invite then allow if membership state is invite or join."
  // v7: "invite or knock".
  if (joinRule === 'invite' || (roomVersion.knockJoinRule && joinRule === 'knock')) {
    if (current === 'invite' || current === 'join') return ALLOWED;
    return deny(
      'member.join.not_invited',
      `the room is ${joinRule}-only and ${target} is not invited`,
    );
  }
  // v8 4.3.5 "If the join_rule is restricted" (v10: "or knock_restricted"):
  if (
    (roomVersion.restrictedJoinRule && joinRule === 'restricted') ||
    (roomVersion.knockRestrictedJoinRule && joinRule === 'knock_restricted')
  ) {
    // v8 4.3.5.1 "If membership state is join or invite, allow."
    if (current === 'join' || current === 'invite') return ALLOWED;
    // v8 4.3.5.2 "If the join_authorised_via_users_server key in content is not a user with
    // sufficient permission to invite other users or is not a joined member of the room, reject."
    const authoriser = ownValue(event.content, AUTHORISING_USER);
    if (typeof authoriser !== 'string') {
      return deny('member.join.authoriser_missing', `a ${joinRule} join needs ${AUTHORISING_USER}`);
    }
    if (membershipIn(state, authoriser) !== 'join') {
      return deny('member.join.authoriser_not_joined', `${authoriser} is not joined to the room`);
    }
    if (levels.userLevel(authoriser) < levels.named('invite')) {
      return deny('member.join.authoriser_cannot_invite', `${authoriser} cannot invite`);
    }
    return ALLOWED; // v8 4.3.5.3
  }
  // v1 5.2.5 "If the join_rule is public, allow."
  if (joinRule === 'public') return ALLOWED;
  // v1 5.2.6 "Otherwise, reject."
  return deny('member.join.join_rule', `join rule ${JSON.stringify(joinRule)} allows no joins`);
}

/** The user whose join may directly follow the create event: `content.creator` (v1–10) or the sender. */
function firstJoinCreator(create: RoomEvent, roomVersion: RoomVersion): string | undefined {
  if (roomVersion.implicitRoomCreator) return create.sender;
  const creator = ownValue(create.content, 'creator');
  return typeof creator === 'string' ? creator : undefined;
}

function authorizeInvite(
  event: RoomEvent,
  target: string,
  state: AuthState,
  levels: PowerLevels,
): AuthResult {
  // v1 5.3.1 "If content has a third_party_invite property:"
  if (Object.hasOwn(event.content, 'third_party_invite')) {
    return authorizeThirdPartyInvite(event, target, state);
  }
  // v1 5.3.2 "If the sender's current membership state is not join, reject."
  if (membershipIn(state, event.sender) !== 'join') {
    return deny('member.invite.sender_not_joined', `${event.sender} is not joined to the room`);
  }
  // v1 5.3.3 "If target user's current membership state is join or ban, reject."
  const current = membershipIn(state, target);
  if (current === 'join' || current === 'ban') {
    return deny('member.invite.target_joined_or_banned', `${target} is already ${current}`);
  }
  // v1 5.3.4 "If the sender's power level is greater than or equal to the invite level, allow."
  if (levels.userLevel(event.sender) >= levels.named('invite')) return ALLOWED;
  // v1 5.3.5
  return deny('member.invite.insufficient_power', 'sender is below the invite level');
}

function authorizeThirdPartyInvite(event: RoomEvent, target: string, state: AuthState): AuthResult {
  // v1 5.3.1.1 "If target user is banned, reject."
  if (membershipIn(state, target) === 'ban') {
    return deny('member.third_party_invite.target_banned', `${target} is banned`);
  }
  // v1 5.3.1.2 "If content.third_party_invite does not have a signed property, reject."
  const invite = event.content.third_party_invite;
  const signed = isJsonObject(invite) ? ownValue(invite, 'signed') : undefined;
  if (!isJsonObject(signed)) {
    return deny('member.third_party_invite.no_signed', 'third_party_invite has no signed object');
  }
  // v1 5.3.1.3 "If signed does not have mxid and token properties, reject."
  const mxid = ownValue(signed, 'mxid');
  const token = ownValue(signed, 'token');
  if (mxid === undefined || token === undefined) {
    return deny('member.third_party_invite.no_mxid_or_token', 'signed has no mxid or no token');
  }
  // v1 5.3.1.4 "If mxid does not match state_key, reject."
  if (mxid !== target) {
    return deny('member.third_party_invite.mxid_mismatch', 'signed.mxid is not the state_key');
  }
  // v1 5.3.1.5 "If there is no m.room.third_party_invite event in the current room state with
  // state_key matching token, reject."
  const inviteEvent =
    typeof token === 'string'
      ? state.get(stateKeyOf('m.room.third_party_invite', token))
      : undefined;
  if (inviteEvent === undefined) {
    return deny('member.third_party_invite.no_invite_event', 'no third-party invite for the token');
  }
  // v1 5.3.1.6 "If sender does not match sender of the m.room.third_party_invite, reject."
  if (inviteEvent.sender !== event.sender) {
    return deny(
      'member.third_party_invite.sender_mismatch',
      'the third-party invite was sent by someone else',
    );
  }
  // v1 5.3.1.7 "If any signature in signed matches any public key in the
  // m.room.third_party_invite event, allow."
  if (isSignedByInviteKey(signed, inviteEvent.content)) return ALLOWED;
  // v1 5.3.1.8
  return deny(
    'member.third_party_invite.bad_signature',
    'signed carries no valid signature by a key of the third-party invite',
  );
}

/**
 * Whether an Ed25519 signature in `signed` verifies with `public_key` or one of `public_keys`
 * (unpadded base64, standard or URL-safe) of the third-party invite.
 */
function isSignedByInviteKey(signed: JsonObject, inviteContent: JsonObject): boolean {
  const publicKeys: string[] = [];
  const single = ownValue(inviteContent, 'public_key');
  if (typeof single === 'string') publicKeys.push(single);
  const list = ownValue(inviteContent, 'public_keys');
  if (Array.isArray(list)) {
    for (const entry of list) {
      const key = isJsonObject(entry) ? ownValue(entry, 'public_key') : undefined;
      if (typeof key === 'string') publicKeys.push(key);
    }
  }
  const signatures = ownValue(signed, 'signatures');
  if (publicKeys.length === 0 || !isJsonObject(signatures)) return false;
  for (const [signingName, byKeyId] of Object.entries(signatures)) {
    if (!isJsonObject(byKeyId)) continue;
    for (const keyId of Object.keys(byKeyId)) {
      for (const publicKey of publicKeys) {
        // verifyJsonSignature reads the standard alphabet; identity servers may use URL-safe.
        const standard = publicKey.replace(/-/g, '+').replace(/_/g, '/');
        if (verifyJsonSignature(signed, signingName, keyId, standard)) return true;
      }
    }
  }
  return false;
}

function authorizeLeave(
  event: RoomEvent,
  target: string,
  state: AuthState,
  levels: PowerLevels,
  roomVersion: RoomVersion,
): AuthResult {
  const current = membershipIn(state, target);
  // v1 5.4.1 "If the sender matches state_key, allow if and only if that user's current
  // membership state is invite or join." v7: "invite, join, or knock".
  if (event.sender === target) {
    if (current === 'invite' || current === 'join') return ALLOWED;
    if (roomVersion.knockJoinRule && current === 'knock') return ALLOWED;
    return deny('member.leave.not_member', `${target} is not invited or joined`);
  }
  // v1 5.4.2 "If the sender's current membership state is not join, reject."
  if (membershipIn(state, event.sender) !== 'join') {
    return deny('member.leave.sender_not_joined', `${event.sender} is not joined to the room`);
  }
  const senderLevel = levels.userLevel(event.sender);
  // v1 5.4.3 "If the target user's current membership state is ban, and the sender's power level
  // is less than the ban level, reject."
  if (current === 'ban' && senderLevel < levels.named('ban')) {
    return deny('member.leave.unban_insufficient_power', 'sender is below the ban level');
  }
  // v1 5.4.4 "If the sender's power level is greater than or equal to the kick level, and the
  // target user's power level is less than the sender's power level, allow."
  if (senderLevel >= levels.named('kick') && levels.userLevel(target) < senderLevel) {
    return ALLOWED;
  }
  // v1 5.4.5
  return deny(
    'member.leave.kick_insufficient_power',
    'sender is below the kick level or not above the target',
  );
}

function authorizeBan(
  event: RoomEvent,
  target: string,
  state: AuthState,
  levels: PowerLevels,
): AuthResult {
  // v1 5.5.1 "If the sender's current membership state is not join, reject."
  if (membershipIn(state, event.sender) !== 'join') {
    return deny('member.ban.sender_not_joined', `${event.sender} is not joined to the room`);
  }
  // v1 5.5.2 "If the sender's power level is greater than or equal to the ban level, and the
  // target user's power level is less than the sender's power level, allow."
  const senderLevel = levels.userLevel(event.sender);
  if (senderLevel >= levels.named('ban') && levels.userLevel(target) < senderLevel) return ALLOWED;
  // v1 5.5.3
  return deny(
    'member.ban.insufficient_power',
    'sender is below the ban level or not above the target',
  );
}

function authorizeKnock(
  event: RoomEvent,
  target: string,
  state: AuthState,
  roomVersion: RoomVersion,
): AuthResult {
  // v7 4.7.1 "If the join_rule is anything other than knock, reject." v10: "knock or
  // knock_restricted".
  const joinRule = joinRuleOf(state);
  if (
    joinRule !== 'knock' &&
    !(roomVersion.knockRestrictedJoinRule && joinRule === 'knock_restricted')
  ) {
    return deny('member.knock.join_rule', `join rule ${JSON.stringify(joinRule)} allows no knocks`);
  }
  // v7 4.7.2 "If sender does not match state_key, reject."
  if (event.sender !== target) {
    return deny('member.knock.sender_not_target', 'users can only knock for themselves');
  }
  // v7 4.7.3 "If the sender's current membership is not ban, invite, or join, allow."
  const current = membershipIn(state, target);
  if (current !== 'ban' && current !== 'invite' && current !== 'join') return ALLOWED;
  // v7 4.7.4
  return deny('member.knock.banned_invited_or_joined', `${target} is already ${current}`);
}

// ---------------------------------------------------------------------------------------------
// m.room.power_levels

function authorizePowerLevels(
  event: RoomEvent,
  create: RoomEvent,
  levels: PowerLevels,
  senderLevel: number,
  roomVersion: RoomVersion,
): AuthResult {
  const content = event.content;
  const valid = (value: JsonValue | undefined) => parsePowerLevel(value, roomVersion) !== undefined;

  // v10 9.1 "If any of the properties users_default, events_default, state_default, ban, redact,
  // kick, or invite in content are present and not an integer, reject." Before v10 the same
  // check holds with that version's value syntax (strings, floats): the spec does not say what
  // an unparsable level means, and the comparisons below need numbers.
  for (const name of NAMED_POWER_LEVELS) {
    if (Object.hasOwn(content, name) && !valid(content[name])) {
      return deny('power_levels.invalid_level', `${name} is not a valid power level`);
    }
  }
  // v10 9.2 "If either of the properties events or notifications in content are present and not
  // an object with values that are integers, reject." Earlier versions: as above, for what the
  // version compares (notifications from v6).
  const checkedMaps = roomVersion.limitNotificationsPowerLevels
    ? (['events', 'notifications'] as const)
    : (['events'] as const);
  for (const name of checkedMaps) {
    if (!Object.hasOwn(content, name)) continue;
    const map = content[name];
    if (!isJsonObject(map) || !Object.values(map).every(valid)) {
      return deny('power_levels.invalid_events', `${name} must map keys to power levels`);
    }
  }
  // v1 10.1 "If the users property in content is not an object with keys that are valid user IDs
  // with values that are integers (or a string that is an integer), reject."
  const users = ownValue(content, 'users');
  if (users !== undefined) {
    if (!isJsonObject(users)) return deny('power_levels.invalid_users', 'users is not an object');
    for (const [userId, level] of Object.entries(users)) {
      if (!isValidUserId(userId)) {
        return deny(
          'power_levels.invalid_users',
          `users key ${JSON.stringify(userId)} is not a user ID`,
        );
      }
      if (!valid(level)) {
        return deny('power_levels.invalid_users', `users value for ${userId} is not a power level`);
      }
    }
    // v12 10.4 "If the users property in content contains the sender of the m.room.create event
    // or any of the additional_creators array (if present) from the content of the
    // m.room.create event, reject."
    if (roomVersion.privilegedCreators) {
      for (const creator of roomCreators(create, roomVersion)) {
        if (Object.hasOwn(users, creator)) {
          return deny('power_levels.creator_in_users', `room creator ${creator} is in users`);
        }
      }
    }
  }

  // v1 10.2 "If there is no previous m.room.power_levels event in the room, allow."
  const previous = levels.event;
  if (previous === undefined) return ALLOWED;
  const before = previous.content;
  const parse = (obj: JsonObject | undefined, key: string) =>
    parsePowerLevel(ownValue(obj, key), roomVersion);

  // v1 10.3 "For the properties users_default, events_default, state_default, ban, redact, kick,
  // invite check if they were added, changed or removed. For each found alteration:"
  for (const name of NAMED_POWER_LEVELS) {
    const oldLevel = parse(before, name);
    const newLevel = parse(content, name);
    if (oldLevel === newLevel) continue;
    // v1 10.3.1 "If the current value is greater than the sender's current power level, reject."
    if (oldLevel !== undefined && oldLevel > senderLevel) {
      return deny('power_levels.named_current_above_own', `${name} is above the sender's level`);
    }
    // v1 10.3.2 "If the new value is greater than the sender's current power level, reject."
    if (newLevel !== undefined && newLevel > senderLevel) {
      return deny('power_levels.named_new_above_own', `new ${name} is above the sender's level`);
    }
  }

  // v1 10.4 / 10.5 for events; v6 adds notifications.
  for (const name of checkedMaps) {
    const oldMap = objectAt(before, name);
    const newMap = objectAt(content, name);
    // v1 10.4 "For each entry being changed in, or removed from, the events property: If the
    // current value is greater than the sender's current power level, reject."
    for (const key of keysOf(oldMap)) {
      const oldLevel = parse(oldMap, key);
      if (oldLevel !== undefined && oldLevel !== parse(newMap, key) && oldLevel > senderLevel) {
        return deny(
          'power_levels.event_current_above_own',
          `${name}.${key} is above the sender's level`,
        );
      }
    }
    // v1 10.5 "For each entry being added to, or changed in, the events property: If the new
    // value is greater than the sender's current power level, reject."
    for (const key of keysOf(newMap)) {
      const newLevel = parse(newMap, key);
      if (newLevel !== undefined && newLevel !== parse(oldMap, key) && newLevel > senderLevel) {
        return deny(
          'power_levels.event_new_above_own',
          `new ${name}.${key} is above the sender's level`,
        );
      }
    }
  }

  const oldUsers = objectAt(before, 'users');
  const newUsers = isJsonObject(users) ? users : undefined;
  // v1 10.6 "For each entry being changed in, or removed from, the users property, other than
  // the sender's own entry: If the current value is greater than or equal to the sender's
  // current power level, reject."
  for (const userId of keysOf(oldUsers)) {
    if (userId === event.sender) continue;
    const oldLevel = parse(oldUsers, userId);
    if (oldLevel !== undefined && oldLevel !== parse(newUsers, userId) && oldLevel >= senderLevel) {
      return deny(
        'power_levels.user_current_not_below_own',
        `${userId}'s level is not below the sender's`,
      );
    }
  }
  // v1 10.7 "For each entry being added to, or changed in, the users property: If the new value
  // is greater than the sender's current power level, reject."
  for (const userId of keysOf(newUsers)) {
    const newLevel = parse(newUsers, userId);
    if (newLevel !== undefined && newLevel !== parse(oldUsers, userId) && newLevel > senderLevel) {
      return deny('power_levels.raise_above_own', `new level of ${userId} is above the sender's`);
    }
  }
  return ALLOWED; // v1 10.8
}

function objectAt(obj: JsonObject, key: string): JsonObject | undefined {
  const value = ownValue(obj, key);
  return isJsonObject(value) ? value : undefined;
}

function keysOf(obj: JsonObject | undefined): string[] {
  return obj === undefined ? [] : Object.keys(obj);
}

// ---------------------------------------------------------------------------------------------

/**
 * The server whose signature a member event needs besides the sender's (v8 rule 4.2): the
 * server of `content.join_authorised_via_users_server`, in versions with restricted joins.
 * Signature checks must require a valid signature from it; `authorizeEvent` cannot.
 */
export function joinAuthorisingServer(
  event: RoomEvent,
  roomVersion: RoomVersion,
): string | undefined {
  if (!roomVersion.restrictedJoinRule || event.type !== 'm.room.member') return undefined;
  const authoriser = ownValue(event.content, AUTHORISING_USER);
  return typeof authoriser === 'string' && isValidUserId(authoriser)
    ? domainOf(authoriser)
    : undefined;
}
