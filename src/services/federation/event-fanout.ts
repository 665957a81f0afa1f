/**
 * Sends this server's own events to the other servers of their room: every event this server
 * created (sender on this server) is queued for each server with a member joined to the room
 * once it is stored, and a leave or ban also for the server of the user it concerns (who is no
 * longer joined). Invites reach the invitee's server through `/invite` (the membership code),
 * not here, unless that server is already in the room. Events of other servers are theirs to
 * send.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { parseUserId } from '../../core/identifiers.js';
import { selectMembersOfRoom } from '../../storage/rooms/memberships.js';
import { stateKeyOf, type StateMap } from '../../protocol/room-event.js';
import type { Database } from '../../storage/schema.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import type { RoomGraph } from '../room-graph/room-graph.js';
import type { PersistedEvent, RoomEvents } from '../rooms/room-events.js';
import type { OutboundQueue } from './outbound-queue.js';

/** The server of a user ID, or undefined for something that is not one. */
export function serverOfUser(userId: string): string | undefined {
  try {
    return parseUserId(userId).serverName;
  } catch {
    return undefined;
  }
}

/** The servers with at least one member joined to the room (this server included if it has). */
export async function serversInRoom(db: TenantDatabase, roomId: string): Promise<Set<string>> {
  return db.read((reader) => serversJoinedTo(reader, roomId));
}

async function serversJoinedTo(reader: Kysely<Database>, roomId: string): Promise<Set<string>> {
  const members = await selectMembersOfRoom(reader, roomId, ['join']);
  const servers = new Set<string>();
  for (const member of members) {
    const server = serverOfUser(member.user_id);
    if (server !== undefined) servers.add(server);
  }
  return servers;
}

/**
 * Whether a member event of the room's state names a user of another server: when none does,
 * no other server has a member joined (the usual room of a small homeserver), and a new event
 * goes nowhere without reading the memberships.
 */
export function mayHaveRemoteMembers(state: StateMap, serverName: string): boolean {
  const localMember = `:${serverName}"]`;
  for (const key of state.keys()) {
    if (key.startsWith(MEMBER_KEY_PREFIX) && !key.endsWith(localMember)) return true;
  }
  return false;
}

/** How `stateKeyOf('m.room.member', …)` begins. */
const MEMBER_KEY_PREFIX = stateKeyOf('m.room.member', '').slice(0, -3);

/** What the fan-out needs to know of an event. */
type FannedOutEvent = Pick<PersistedEvent, 'roomId' | 'type' | 'stateKey' | 'membership'>;

/** The servers a new event of this server goes to (this server left out). */
export async function fanoutDestinations(
  reader: Kysely<Database>,
  serverName: string,
  event: FannedOutEvent,
): Promise<string[]> {
  const servers = await serversJoinedTo(reader, event.roomId);
  const concernsMember =
    event.type === 'm.room.member' &&
    event.stateKey !== undefined &&
    (event.membership === 'leave' || event.membership === 'ban');
  if (concernsMember) {
    const server = serverOfUser(event.stateKey as string);
    if (server !== undefined) servers.add(server);
  }
  servers.delete(serverName);
  return [...servers].sort();
}

/**
 * Queues every event this server creates for the other servers of its room; returns the
 * disconnect. An event built here is queued in the transaction that stores it (one commit, and
 * the queue's sender woken as soon as it committed); one of this server's users' events stored
 * from elsewhere (a join through another server's `send_join`) once it is announced.
 */
export function connectEventFanout(deps: {
  serverName: string;
  db: TenantDatabase;
  roomEvents: Pick<RoomEvents, 'persisted' | 'addLocalEventWrite'>;
  roomGraph: Pick<RoomGraph, 'currentState'>;
  outbound: Pick<OutboundQueue, 'enqueuePdu' | 'kick'>;
  logger: Logger;
}): () => void {
  const { serverName, db, outbound } = deps;
  const detachWrite = deps.roomEvents.addLocalEventWrite(async (trx, event) => {
    if (serverOfUser(event.sender) !== serverName) return undefined;
    const target = event.type === 'm.room.member' ? event.stateKey : undefined;
    const remoteTarget = target !== undefined && serverOfUser(target) !== serverName;
    // The state before this event (it is not applied until the transaction commits).
    const state = await deps.roomGraph.currentState(event.roomId);
    if (!remoteTarget && !mayHaveRemoteMembers(state, serverName)) return undefined;
    const membership = event.type === 'm.room.member' ? event.content.membership : undefined;
    const destinations = await fanoutDestinations(trx, serverName, {
      roomId: event.roomId,
      type: event.type,
      stateKey: event.stateKey,
      ...(typeof membership === 'string' ? { membership } : {}),
    });
    if (destinations.length === 0) return undefined;
    await outbound.enqueuePdu(event.eventId, destinations, trx);
    return () => outbound.kick(destinations);
  });
  const detachListener = deps.roomEvents.persisted.add(async (event) => {
    if (event.builtHere || serverOfUser(event.sender) !== serverName) return;
    const destinations = await db.read((reader) => fanoutDestinations(reader, serverName, event));
    if (destinations.length > 0) await outbound.enqueuePdu(event.eventId, destinations);
  });
  return () => {
    detachWrite();
    detachListener();
  };
}
