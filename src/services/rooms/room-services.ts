import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import { deleteTxnIdsOfDevices } from '../../storage/rooms/txn-ids.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import type { AccountServices } from '../account-services.js';
import { RoomGraph } from '../room-graph/room-graph.js';
import type { ServerKeys } from '../server-keys/server-keys.js';
import { ClientEvents } from './client-event.js';
import { HistoryVisibility } from './history-visibility.js';
import { RoomAccess } from './room-access.js';
import { RoomAliases } from './room-aliases.js';
import { RoomCreation } from './room-creation.js';
import { RoomDirectory } from './room-directory.js';
import { RoomEvents } from './room-events.js';
import { RoomMembership } from './room-membership.js';
import { RoomMessages } from './room-messages.js';
import { RoomState } from './room-state.js';
import { RoomTimeline } from './room-timeline.js';
import { RoomUpgrade } from './room-upgrade.js';

/** The services of the rooms slice: the event graph, sending events, and reading rooms. */
export interface RoomServices {
  readonly roomGraph: RoomGraph;
  /** Every local event goes through `roomEvents.send`; `roomEvents.persisted` announces them. */
  readonly roomEvents: RoomEvents;
  readonly clientEvents: ClientEvents;
  readonly historyVisibility: HistoryVisibility;
  readonly roomAccess: RoomAccess;
  readonly roomAliases: RoomAliases;
  readonly roomDirectory: RoomDirectory;
  readonly roomCreation: RoomCreation;
  readonly roomMembership: RoomMembership;
  readonly roomMessages: RoomMessages;
  readonly roomState: RoomState;
  readonly roomTimeline: RoomTimeline;
  readonly roomUpgrade: RoomUpgrade;
}

export interface RoomServicesDeps {
  serverName: string;
  db: TenantDatabase;
  clock: Clock;
  logger: Logger;
  serverKeys: ServerKeys;
  /** The account services rooms build on (users, profiles, devices). */
  accounts: Pick<AccountServices, 'users' | 'profiles' | 'devices' | 'ignoredUsers'>;
}

/**
 * Builds one tenant's room services and subscribes them to the account changes rooms follow:
 * profile changes (new member events), deactivations (leaving every room), deleted devices
 * (their transaction IDs go).
 */
export function createRoomServices(deps: RoomServicesDeps): RoomServices {
  const { serverName, db, clock, logger } = deps;
  const { users, profiles, devices } = deps.accounts;
  const roomGraph = new RoomGraph(db, { logger });
  const roomEvents = new RoomEvents({
    db,
    graph: roomGraph,
    clock,
    serverName,
    signingKey: deps.serverKeys.signingKey,
    logger,
  });
  const clientEvents = new ClientEvents(db, roomGraph, clock);
  const historyVisibility = new HistoryVisibility(db, roomGraph, deps.accounts.ignoredUsers);
  const roomAccess = new RoomAccess(db, roomGraph, historyVisibility);
  const roomAliases = new RoomAliases(db, roomGraph, historyVisibility, serverName);
  const roomMembership = new RoomMembership({
    db,
    graph: roomGraph,
    events: roomEvents,
    aliases: roomAliases,
    users,
    profiles,
    serverName,
    logger,
  });

  profiles.changed.add((change) => roomMembership.onProfileChanged(change));
  users.deactivated.add(({ userId }) => roomMembership.onUserDeactivated(userId));
  roomEvents.persisted.add(({ type, stateKey, roomId }) =>
    type === 'm.room.guest_access' && stateKey === ''
      ? roomMembership.onGuestAccessChanged(roomId)
      : undefined,
  );
  devices.deleted.add(({ userId, deviceIds }) =>
    db.transact((trx) => deleteTxnIdsOfDevices(trx, userId, deviceIds)),
  );

  const roomCreation = new RoomCreation({
    graph: roomGraph,
    events: roomEvents,
    aliases: roomAliases,
    users,
    profiles,
    serverName,
    membership: roomMembership,
  });

  return {
    roomGraph,
    roomEvents,
    clientEvents,
    historyVisibility,
    roomAccess,
    roomAliases,
    roomDirectory: new RoomDirectory(db, roomGraph, serverName),
    roomCreation,
    roomMembership,
    roomMessages: new RoomMessages(roomGraph, roomEvents, roomAliases, serverName),
    roomState: new RoomState(db, roomGraph, roomAccess, clientEvents),
    roomTimeline: new RoomTimeline(db, roomGraph, roomAccess, historyVisibility, clientEvents),
    roomUpgrade: new RoomUpgrade({
      db,
      graph: roomGraph,
      events: roomEvents,
      creation: roomCreation,
      serverName,
      logger,
    }),
  };
}
