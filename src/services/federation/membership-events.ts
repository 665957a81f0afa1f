/**
 * The pieces of federated membership both sides share: what a membership template from
 * make_join/make_leave/make_knock holds, how this server turns one into its own signed event,
 * and the checks a member event received on send_join/send_leave/send_knock/invite must pass
 * before anything else looks at it (server-server API "Joining Rooms", "Inviting to a room",
 * "Leaving Rooms", "Knocking upon a room").
 */

import type { JsonObject } from '../../core/canonical-json.js';
import { invalidParam, MatrixError } from '../../core/errors.js';
import { isValidUserId, parseUserId } from '../../core/identifiers.js';
import { generateLegacyEventId } from '../../protocol/event-hashing.js';
import { signNewEvent } from '../../protocol/event-signing.js';
import { toRoomEvent } from '../../protocol/room-event.js';
import type { RoomEvent } from '../../protocol/room-event.js';
import type { RoomVersion } from '../../protocol/room-versions.js';
import type { SigningKey } from '../../protocol/signing-key.js';
import type { StrippedStateEvent } from '../rooms/stripped-state.js';

export type RemoteMembership = 'join' | 'leave' | 'knock';

/** The fields of a template the joining server keeps; it adds the rest itself. */
const TEMPLATE_FIELDS = [
  'type',
  'room_id',
  'sender',
  'state_key',
  'content',
  'depth',
  'prev_events',
  'auth_events',
] as const;

/**
 * A make_* template from an event this server built (and signed) at the room's extremities:
 * the event without hashes, signatures or ID, with `origin` and `origin_server_ts` as hints.
 */
export function templateOf(pdu: JsonObject, serverName: string): JsonObject {
  const template: JsonObject = {};
  for (const field of TEMPLATE_FIELDS) {
    const value = pdu[field];
    if (value !== undefined) template[field] = value;
  }
  template.origin = serverName;
  template.origin_server_ts = pdu.origin_server_ts ?? 0;
  return template;
}

/**
 * This server's member event from another server's template: the template's place in the room
 * (prev/auth events, depth) and content (plus `extraContent`), this server's timestamp, hash,
 * signature and the ID the room version derives. Throws M_BAD_JSON for a template that does not
 * describe `membership` of `userId` in `roomId`.
 */
export function eventFromTemplate(
  template: JsonObject,
  expected: { roomId: string; userId: string; membership: RemoteMembership },
  extraContent: JsonObject,
  context: { version: RoomVersion; serverName: string; signingKey: SigningKey; now: number },
): RoomEvent {
  const content = template.content;
  if (
    template.type !== 'm.room.member' ||
    template.room_id !== expected.roomId ||
    template.sender !== expected.userId ||
    template.state_key !== expected.userId ||
    content === null ||
    typeof content !== 'object' ||
    Array.isArray(content) ||
    content.membership !== expected.membership
  ) {
    throw new MatrixError(
      'M_BAD_JSON',
      `The resident server sent a malformed ${expected.membership} template`,
      {
        status: 502,
      },
    );
  }
  const pdu: JsonObject = {};
  for (const field of TEMPLATE_FIELDS) {
    const value = template[field];
    if (value !== undefined) pdu[field] = value;
  }
  pdu.content = { ...content, ...extraContent, membership: expected.membership };
  pdu.origin_server_ts = context.now;
  if (context.version.eventIdFormat === 'v1') {
    pdu.event_id = generateLegacyEventId(context.serverName);
    pdu.origin = context.serverName;
  }
  const signed = signNewEvent(pdu, context.serverName, context.signingKey, context.version);
  try {
    return toRoomEvent(signed.pdu, context.version, signed.eventId);
  } catch (error) {
    throw new MatrixError(
      'M_BAD_JSON',
      `The ${expected.membership} template is malformed: ${(error as Error).message}`,
      {
        status: 502,
      },
    );
  }
}

/**
 * The checks the spec asks of a member event submitted to send_join/send_leave/send_knock:
 * the ID and room of the URL, type, membership, a sender of the origin server acting on itself.
 * 400 M_INVALID_PARAM otherwise.
 */
export function checkSubmittedMembership(
  event: RoomEvent,
  expected: { eventId: string; roomId: string; membership: RemoteMembership; origin: string },
): void {
  if (event.eventId !== expected.eventId) {
    throw invalidParam(`The event's ID is ${event.eventId}, not ${expected.eventId}`);
  }
  if (event.roomId !== expected.roomId) {
    throw invalidParam(`The event is in ${event.roomId}, not ${expected.roomId}`);
  }
  if (event.type !== 'm.room.member') throw invalidParam('The event is not an m.room.member event');
  if (event.content.membership !== expected.membership) {
    throw invalidParam(`The event's membership is not ${expected.membership}`);
  }
  if (!isValidUserId(event.sender) || parseUserId(event.sender).serverName !== expected.origin) {
    throw invalidParam(`The sender ${event.sender} is not a user of ${expected.origin}`);
  }
  if (event.stateKey !== event.sender) throw invalidParam('The state_key is not the sender');
}

/**
 * The checks on an invite submitted to this server: the ID and room of the URL, an invite by a
 * user of the origin server, of a user of this server. 400 M_INVALID_PARAM otherwise.
 */
export function checkSubmittedInvite(
  event: RoomEvent,
  expected: { eventId: string; roomId: string; origin: string; serverName: string },
): void {
  if (event.eventId !== expected.eventId) {
    throw invalidParam(`The event's ID is ${event.eventId}, not ${expected.eventId}`);
  }
  if (event.roomId !== expected.roomId) {
    throw invalidParam(`The event is in ${event.roomId}, not ${expected.roomId}`);
  }
  if (event.type !== 'm.room.member') throw invalidParam('The event is not an m.room.member event');
  if (event.content.membership !== 'invite')
    throw invalidParam("The event's membership is not invite");
  if (!isValidUserId(event.sender) || parseUserId(event.sender).serverName !== expected.origin) {
    throw invalidParam(`The sender ${event.sender} is not a user of ${expected.origin}`);
  }
  const target = event.stateKey;
  if (
    target === undefined ||
    !isValidUserId(target) ||
    parseUserId(target).serverName !== expected.serverName
  ) {
    throw invalidParam(`The invitee ${String(target)} is not a user of ${expected.serverName}`);
  }
}

/**
 * Stripped state (what clients see) from the PDUs of `invite_room_state` / `knock_room_state`;
 * entries that are not state events are left out.
 */
export function strippedFromPdus(pdus: readonly unknown[]): StrippedStateEvent[] {
  const stripped: StrippedStateEvent[] = [];
  for (const pdu of pdus) {
    if (pdu === null || typeof pdu !== 'object' || Array.isArray(pdu)) continue;
    const { type, state_key: stateKey, sender, content } = pdu as JsonObject;
    if (typeof type !== 'string' || typeof stateKey !== 'string' || typeof sender !== 'string') {
      continue;
    }
    if (content === null || typeof content !== 'object' || Array.isArray(content)) continue;
    stripped.push({ type, state_key: stateKey, sender, content });
  }
  return stripped;
}

/** The event with `unsigned[key]` set (unsigned data is covered by neither hash nor signature). */
export function withUnsigned(event: RoomEvent, key: string, value: unknown): RoomEvent {
  const unsigned = event.pdu.unsigned;
  const base =
    unsigned !== null && typeof unsigned === 'object' && !Array.isArray(unsigned) ? unsigned : {};
  return { ...event, pdu: { ...event.pdu, unsigned: { ...base, [key]: value as JsonObject[] } } };
}
