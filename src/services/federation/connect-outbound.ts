/**
 * Wires a tenant's outbound federation: its own events (fan-out) and its users' EDUs go to the
 * outbound queue, and the queue resumes what earlier instances left queued. The returned
 * function stops it all (the tenant is stopping; queued rows stay for the next instance).
 */
import type { Logger } from 'pino';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import type { RoomGraph } from '../room-graph/room-graph.js';
import type { RoomEvents } from '../rooms/room-events.js';
import { connectEventFanout } from './event-fanout.js';
import { connectOutboundEdus, type OutboundEduSources } from './outbound-edus.js';
import type { OutboundQueue } from './outbound-queue.js';

export function connectOutboundFederation(deps: {
  serverName: string;
  db: TenantDatabase;
  logger: Logger;
  outbound: OutboundQueue;
  roomEvents: Pick<RoomEvents, 'persisted' | 'addLocalEventWrite'>;
  roomGraph: Pick<RoomGraph, 'currentState'>;
  sources: OutboundEduSources;
}): () => Promise<void> {
  const { serverName, db, logger, outbound } = deps;
  const disconnectEvents = connectEventFanout({
    serverName,
    db,
    roomEvents: deps.roomEvents,
    roomGraph: deps.roomGraph,
    outbound,
    logger,
  });
  const disconnectEdus = connectOutboundEdus({ serverName, db, outbound, sources: deps.sources });
  // Catch-up: destinations with rows queued by an earlier instance (restart, hibernation, move).
  const started = outbound.start().catch((error: unknown) => {
    logger.error({ err: error }, 'outbound federation could not resume');
  });
  return async () => {
    disconnectEvents();
    disconnectEdus();
    await started;
    await outbound.stop();
  };
}
