/**
 * Stripped state (client-server API "Stripped state"): the few state events that let a user
 * who is not in a room yet recognise it — in `/sync`'s `invite_state` and `knock_state`, and in
 * `unsigned.invite_room_state` / `knock_room_state` of the invite or knock itself. Clients get
 * only `type`, `state_key`, `sender` and `content`; the full PDUs of MSC4311 are for federation.
 * Since v1.16 the `m.room.create` event is required: every room's state has one.
 */

import { stateKeyOf } from '../../protocol/room-event.js';
import type { RoomEvent, StateKey, StateMap } from '../../protocol/room-event.js';
import type { RoomGraph } from '../room-graph/room-graph.js';

export interface StrippedStateEvent {
  type: string;
  state_key: string;
  sender: string;
  content: unknown;
}

/** The room's essentials, as the spec lists them (create first: it is the one required). */
export const STRIPPED_STATE_TYPES = [
  'm.room.create',
  'm.room.name',
  'm.room.avatar',
  'm.room.topic',
  'm.room.join_rules',
  'm.room.canonical_alias',
  'm.room.encryption',
] as const;

/**
 * The stripped state of `state`: the essentials, then the member events of `members` (for an
 * invite, the inviter — whose name and avatar stand in for a room without any — and the
 * invitee), each at most once, in that order.
 */
export async function strippedState(
  graph: RoomGraph,
  state: StateMap,
  members: readonly string[] = [],
): Promise<StrippedStateEvent[]> {
  const keys: StateKey[] = STRIPPED_STATE_TYPES.map((type) => stateKeyOf(type, ''));
  for (const userId of members) keys.push(stateKeyOf('m.room.member', userId));
  const ids = [...new Set(keys.map((key) => state.get(key)).filter((id) => id !== undefined))];
  const found = await graph.getEvents(ids);
  return ids
    .map((id) => found.get(id))
    .filter((event) => event !== undefined)
    .map((event) => ({
      type: event.type,
      state_key: event.stateKey ?? '',
      sender: event.sender,
      content: event.content,
    }));
}

/** The membership event a `/sync` invite or knock section is built from. */
export interface MembershipEventRef {
  /** The `m.room.member` event of the invite or knock. */
  readonly eventId: string;
  /** Who sent it: the inviter, or the knocker. */
  readonly sender: string;
  /** Whose membership it is. */
  readonly userId: string;
}

/**
 * `invite_state` / `knock_state` of `/sync`: the stripped state right after the invite or knock
 * (so it holds that member event), with the sender's and the target's member events.
 */
export async function membershipStrippedState(
  graph: RoomGraph,
  membership: MembershipEventRef,
): Promise<StrippedStateEvent[]> {
  const state = await graph.stateAfterEvent(membership.eventId);
  if (state === undefined) return receivedRoomState(graph, membership.eventId);
  return strippedState(graph, state, [membership.sender, membership.userId]);
}

/**
 * The stripped state another server sent with an invite or knock of a room this server is not
 * in (kept as an outlier, with it in `unsigned.invite_room_state` / `knock_room_state`), and
 * the member event itself.
 */
async function receivedRoomState(graph: RoomGraph, eventId: string): Promise<StrippedStateEvent[]> {
  const event = await graph.getEvent(eventId);
  if (event === undefined) return [];
  const unsigned = event.pdu.unsigned;
  const key = event.content.membership === 'knock' ? 'knock_room_state' : 'invite_room_state';
  const received =
    unsigned !== null && typeof unsigned === 'object' && !Array.isArray(unsigned)
      ? unsigned[key]
      : undefined;
  const events = (Array.isArray(received) ? received : []) as unknown as StrippedStateEvent[];
  const own: StrippedStateEvent = {
    type: event.type,
    state_key: event.stateKey ?? '',
    sender: event.sender,
    content: event.content,
  };
  return [...events.filter((e) => !(e.type === own.type && e.state_key === own.state_key)), own];
}

/** Where the stripped state of an invite or knock goes in the member event's `unsigned`. */
export type UnsignedRoomStateKey = 'invite_room_state' | 'knock_room_state';

/**
 * `unsigned.invite_room_state` / `knock_room_state` of an invite or knock event (client-server
 * API `m.room.member`): the stripped state when it was sent — the state before it, with the
 * inviter's member event for an invite. Undefined for other events.
 */
export async function unsignedRoomState(
  graph: RoomGraph,
  event: RoomEvent,
): Promise<{ key: UnsignedRoomStateKey; events: StrippedStateEvent[] } | undefined> {
  if (event.type !== 'm.room.member' || event.stateKey === undefined) return undefined;
  const membership = event.content.membership;
  if (membership !== 'invite' && membership !== 'knock') return undefined;
  const key = membership === 'invite' ? 'invite_room_state' : 'knock_room_state';
  const state = await graph.stateBeforeEvent(event.eventId);
  if (state === undefined) {
    // An outlier from another server: the stripped state it came with, if any.
    const unsigned = event.pdu.unsigned;
    const received =
      unsigned !== null && typeof unsigned === 'object' && !Array.isArray(unsigned)
        ? unsigned[key]
        : undefined;
    return {
      key,
      events: (Array.isArray(received) ? received : []) as unknown as StrippedStateEvent[],
    };
  }
  const members = membership === 'invite' ? [event.sender] : [];
  return { key, events: await strippedState(graph, state, members) };
}
