/**
 * Sends this server's own events to the other servers of their room: every event this server
 * created (sender on this server) is queued for each server with a member joined to the room
 * once it is stored, and a leave or ban also for the server of the user it concerns (who is no
 * longer joined). Invites reach the invitee's server through `/invite` (the membership code),
 * not here, unless that server is already in the room. Events of other servers are theirs to
 * send.
 */
import type { Logger } from 'pino';
import { parseUserId } from '../../core/identifiers.js';
import { selectMembersOfRoom } from '../../storage/rooms/memberships.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
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
  const members = await db.read((d) => selectMembersOfRoom(d, roomId, ['join']));
  const servers = new Set<string>();
  for (const member of members) {
    const server = serverOfUser(member.user_id);
    if (server !== undefined) servers.add(server);
  }
  return servers;
}

/** The servers a new event of this server goes to (this server left out). */
export async function fanoutDestinations(
  db: TenantDatabase,
  serverName: string,
  event: PersistedEvent,
): Promise<string[]> {
  const servers = await serversInRoom(db, event.roomId);
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

/** Queues every event this server creates for the other servers of its room; returns the disconnect. */
export function connectEventFanout(deps: {
  serverName: string;
  db: TenantDatabase;
  roomEvents: Pick<RoomEvents, 'persisted'>;
  outbound: Pick<OutboundQueue, 'enqueuePdu'>;
  logger: Logger;
}): () => void {
  const { serverName, db, outbound } = deps;
  return deps.roomEvents.persisted.add(async (event) => {
    if (serverOfUser(event.sender) !== serverName) return;
    const destinations = await fanoutDestinations(db, serverName, event);
    if (destinations.length > 0) await outbound.enqueuePdu(event.eventId, destinations);
  });
}
