/**
 * The inbound side of federation, built together: the ACL and visibility checks of other
 * servers (`access`), the PDU pipeline (`pdus`), `PUT /send` (`transactions`) and the reads
 * other servers make of our rooms (`reads`).
 */

import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import type { RoomGraph } from '../room-graph/room-graph.js';
import type { RoomEvents } from '../rooms/room-events.js';
import type { FederationClient, RemoteKeys } from './federation-contracts.js';
import { FederationReads } from './federation-reads.js';
import { InboundPdus } from './inbound-pdus.js';
import { ServerRoomAccess } from './server-room-access.js';
import { TransactionReceiver } from './transaction-receiver.js';
import type { EduHandler, RemoteActivityListener } from './transaction-receiver.js';

export interface InboundFederation {
  readonly access: ServerRoomAccess;
  readonly pdus: InboundPdus;
  readonly transactions: TransactionReceiver;
  readonly reads: FederationReads;
}

export interface InboundFederationDeps {
  serverName: string;
  db: TenantDatabase;
  clock: Clock;
  logger: Logger;
  graph: RoomGraph;
  roomEvents: Pick<RoomEvents, 'persistReceived'>;
  client: FederationClient;
  remoteKeys: RemoteKeys;
  /** The EDU handler, looked up on each transaction (it may be built after this). */
  edus?: () => EduHandler | undefined;
  /** The outbound queue, told when a server sends us a transaction. */
  outbound?: () => RemoteActivityListener | undefined;
}

export function createInboundFederation(deps: InboundFederationDeps): InboundFederation {
  const access = new ServerRoomAccess(deps.graph);
  const pdus = new InboundPdus({ ...deps, access });
  return {
    access,
    pdus,
    transactions: new TransactionReceiver({
      db: deps.db,
      clock: deps.clock,
      logger: deps.logger,
      pdus,
      edus: deps.edus ?? (() => undefined),
      ...(deps.outbound === undefined ? {} : { outbound: deps.outbound }),
    }),
    reads: new FederationReads({ ...deps, access }),
  };
}
