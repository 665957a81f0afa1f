/**
 * One tenant's federation services, reachable as `ctx.services.federation`: its client to other
 * servers, the keys of other servers, and the check of inbound requests.
 */

import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import type { RoomServices } from '../rooms/room-services.js';
import type { ServerKeys } from '../server-keys/server-keys.js';
import type { TenantConfig } from '../tenant-config.js';
import type { Users } from '../users/users.js';
import type { FederationClient, FederationTransport } from './federation-contracts.js';
import { FederatedMembership } from './federated-membership.js';
import { FederationHttpClient } from './federation-http-client.js';
import { InternetFederationSender } from './internet-federation.js';
import { createInboundFederation } from './inbound-federation.js';
import type { InboundFederation } from './inbound-federation.js';
import { RemoteKeyStore } from './remote-key-store.js';
import { InboundEdus, type InboundEdusDeps } from './inbound-edus.js';
import { OutboundQueue } from './outbound-queue.js';
import { RequestAuthenticator } from './request-authenticator.js';
import { RemoteEvents } from './remote-events.js';
import { RoomBackfill } from './room-backfill.js';
import { ServerRoomAccess } from './server-room-access.js';
import { SpaceHierarchy } from './space-hierarchy.js';

export interface FederationServices {
  /** Signed requests to other servers. */
  readonly client: FederationClient;
  /** Signed requests whose answers are bytes, not JSON (media over federation). */
  readonly binaryClient: Pick<FederationHttpClient, 'requestBytes'>;
  /** Other servers' verify keys, fetched and cached. */
  readonly remoteKeys: RemoteKeyStore;
  /** Checks the X-Matrix signature of inbound requests. */
  readonly requestAuth: RequestAuthenticator;
  /** Inbound federation: `PUT /send`, the PDU pipeline, server ACLs and the room reads. */
  readonly inbound: InboundFederation;
  /** Joins, leaves, invites and knocks across servers, both sides (see `FederatedMembership`). */
  readonly membership: FederatedMembership;
  /** The per-destination queue of outbound PDUs and EDUs (start/stop with the tenant). */
  readonly outbound: OutboundQueue;
  /** EDUs received from other servers, fed to typing, receipts, presence, devices. */
  readonly inboundEdus: InboundEdus;
  /** Older history of rooms fetched from their other servers (`/messages` past the oldest). */
  readonly backfill: RoomBackfill;
  /** Space hierarchies, for clients and for other servers (`/hierarchy`). */
  readonly hierarchy: SpaceHierarchy;
  /** Drops the tenant's connections to other servers (when the tenant stops). */
  close(): void;
}

export interface FederationServicesDeps {
  config: TenantConfig;
  db: TenantDatabase;
  clock: Clock;
  logger: Logger;
  serverKeys: ServerKeys;
  /** How this process reaches the other tenants of its deployment (absent: standalone). */
  transport?: FederationTransport;
  /** The PEM contents of `federation_ca_files`, trusted besides the system CAs. */
  extraCaPems?: readonly string[];
  /** The rooms inbound events are checked against and stored into. */
  rooms: Pick<RoomServices, 'roomGraph' | 'roomEvents'> &
    Partial<Pick<RoomServices, 'roomMembership' | 'roomTimeline'>>;
  /** The tenant's users (invitees of other servers' invites, local authorisers of joins). */
  users?: Pick<Users, 'get' | 'isLocal'>;
  /** The local services inbound EDUs feed (typing, receipts, presence, devices, to-device). */
  edus: Omit<InboundEdusDeps, 'clock' | 'logger'>;
}

export function createFederationServices(deps: FederationServicesDeps): FederationServices {
  const { config, db, clock, logger, serverKeys } = deps;
  const serverName = config.server_name;
  const internet = new InternetFederationSender({
    clock,
    extraCaPems: deps.extraCaPems,
    plainHttp: config.federation_plain_http,
    ipAllowlist: config.federation_ip_allowlist,
  });
  const client = new FederationHttpClient({
    serverName,
    signingKey: serverKeys.signingKey,
    logger,
    transport: deps.transport,
    plainHttp: config.federation_plain_http,
    internet,
  });
  const remoteKeys = new RemoteKeyStore({
    serverName,
    db,
    clock,
    logger,
    ownKeys: serverKeys,
    client,
    notaries: config.federation_trusted_key_servers.map((notary) => ({
      serverName: notary.server_name,
      verifyKeys: notary.verify_keys,
    })),
  });
  const outbound = new OutboundQueue({
    serverName,
    db,
    clock,
    logger,
    client,
    roomGraph: deps.rooms.roomGraph,
  });
  const inboundEdus = new InboundEdus({ ...deps.edus, clock, logger });
  const backfill = new RoomBackfill({
    serverName,
    db,
    graph: deps.rooms.roomGraph,
    client,
    remote: new RemoteEvents({ graph: deps.rooms.roomGraph, client, remoteKeys, logger }),
    logger,
    now: () => clock.now(),
  });
  const hierarchy = new SpaceHierarchy({
    serverName,
    db,
    graph: deps.rooms.roomGraph,
    access: new ServerRoomAccess(deps.rooms.roomGraph),
    client,
    logger,
    now: () => clock.now(),
  });
  const services: FederationServices = {
    backfill,
    hierarchy,
    outbound,
    inboundEdus,
    client,
    binaryClient: client,
    remoteKeys,
    requestAuth: new RequestAuthenticator(serverName, remoteKeys, clock),
    inbound: createInboundFederation({
      serverName,
      db,
      clock,
      logger,
      graph: deps.rooms.roomGraph,
      roomEvents: deps.rooms.roomEvents,
      client,
      remoteKeys,
      edus: () => inboundEdus,
      outbound: () => outbound,
    }),
    membership: new FederatedMembership({
      serverName,
      db,
      clock,
      logger,
      signingKey: serverKeys.signingKey,
      graph: deps.rooms.roomGraph,
      events: deps.rooms.roomEvents,
      users: deps.users ?? { get: async () => undefined, isLocal: () => false },
      client,
      remoteKeys,
      outbound: () => outbound,
    }),
    close: () => internet.close(),
  };
  deps.rooms.roomMembership?.useFederation(services.membership);
  deps.rooms.roomTimeline?.useBackfill(backfill);
  return services;
}
