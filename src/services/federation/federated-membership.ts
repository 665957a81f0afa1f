/**
 * Membership across servers (server-server API "Joining Rooms", "Leaving Rooms", "Inviting to a
 * room", "Knocking upon a room"), both sides:
 *
 * - Resident side (this server is in the room): the make_join/make_leave/make_knock templates,
 *   then send_join/send_leave/send_knock — the submitted event is verified, checked against the
 *   URL and the auth rules, stored under the room's lock, and forwarded to the other resident
 *   servers (only the server that accepted it does that). Restricted joins are vouched for by a
 *   local member who may invite, and co-signed.
 * - Invitee side: an invite of one of this server's users is co-signed and kept as an outlier,
 *   with the room's stripped state in its `unsigned`, so that /sync shows it.
 * - Joining side (`RemoteMembershipHandler`, used by `RoomMembership` for rooms this server is
 *   not in): joins, knocks and invite rejections through a resident server; invites of users of
 *   other servers, co-signed by their server before they are stored.
 */

import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import type { JsonObject, JsonValue } from '../../core/canonical-json.js';
import {
  forbidden,
  invalidParam,
  isMatrixError,
  MatrixError,
  notFound,
} from '../../core/errors.js';
import { isValidUserId, parseRoomAlias, parseRoomId, parseUserId } from '../../core/identifiers.js';
import { authorizeEvent, buildAuthState } from '../../protocol/auth/authorize-event.js';
import { addEventSignature, verifyEventSignature } from '../../protocol/event-signing.js';
import { stateKeyOf } from '../../protocol/room-event.js';
import type { RoomEvent, StateKey, StateMap } from '../../protocol/room-event.js';
import { getRoomVersion, KNOWN_ROOM_VERSIONS } from '../../protocol/room-versions.js';
import type { RoomVersion } from '../../protocol/room-versions.js';
import type { SigningKey } from '../../protocol/signing-key.js';
import { signatureKeyIds } from '../../protocol/signing.js';
import { deleteForgottenRoom } from '../../storage/rooms/forgotten-rooms.js';
import {
  selectMembership,
  selectMembersOfRoom,
  upsertMembership,
  type MembershipChange,
} from '../../storage/rooms/memberships.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import { MissingEventsError, type RoomGraph } from '../room-graph/room-graph.js';
import type { RemoteMembershipHandler } from '../rooms/room-membership.js';
import type { RoomEvents } from '../rooms/room-events.js';
import { StateView } from '../rooms/state-view.js';
import { STRIPPED_STATE_TYPES } from '../rooms/stripped-state.js';
import type { Users } from '../users/users.js';
import {
  FederationRequestError,
  type FederationClient,
  type RemoteKeys,
} from './federation-contracts.js';
import {
  checkSubmittedInvite,
  checkSubmittedMembership,
  eventFromTemplate,
  strippedFromPdus,
  templateOf,
  withUnsigned,
  type RemoteMembership,
} from './membership-events.js';
import { PduRejected, verifyPdu } from './pdu-verification.js';
import { ServerRoomAccess } from './server-room-access.js';
import { authOrder, RemoteEvents } from './remote-events.js';

/** What federated membership needs of the outbound queue: send these events to these servers. */
export interface MembershipOutbound {
  enqueuePdu(eventId: string, destinations: readonly string[]): unknown;
}

export interface FederatedMembershipDeps {
  serverName: string;
  db: TenantDatabase;
  clock: Clock;
  logger: Logger;
  signingKey: SigningKey;
  graph: RoomGraph;
  events: RoomEvents;
  users: Pick<Users, 'get' | 'isLocal'>;
  client: FederationClient;
  remoteKeys: RemoteKeys;
  /** Sends the events this server accepted from one server to the others in the room. */
  outbound: () => MembershipOutbound | undefined;
}

/** The answer to send_join (v2). */
export interface SendJoinAnswer {
  origin: string;
  state: JsonObject[];
  auth_chain: JsonObject[];
  event: JsonObject;
  members_omitted: false;
  servers_in_room: string[];
}

/** Errors of a resident server after which the next server is tried (Synapse does the same). */
const FAILOVER_ERRCODES = new Set(['M_UNABLE_TO_AUTHORISE_JOIN', 'M_UNABLE_TO_GRANT_JOIN']);

export class FederatedMembership implements RemoteMembershipHandler {
  readonly #deps: FederatedMembershipDeps;
  readonly #remoteEvents: RemoteEvents;
  readonly #log: Logger;
  readonly #access: ServerRoomAccess;

  constructor(deps: FederatedMembershipDeps) {
    this.#deps = deps;
    this.#access = new ServerRoomAccess(deps.graph);
    this.#log = deps.logger;
    this.#remoteEvents = new RemoteEvents({
      graph: deps.graph,
      client: deps.client,
      remoteKeys: deps.remoteKeys,
      logger: deps.logger,
    });
  }

  // ----------------------------------------------------------------------------------------
  // Resident side

  /**
   * `GET /make_join`, `/make_leave`, `/make_knock`: a template of `userId`'s member event at the
   * room's extremities. 404 for a room this server is not in; 400 M_INCOMPATIBLE_ROOM_VERSION
   * when the room's version is not among `versions` (join and knock); 403 when the user is not
   * of the origin or the auth rules would refuse the event.
   */
  async makeMembership(
    origin: string,
    roomId: string,
    userId: string,
    membership: RemoteMembership,
    versions?: readonly string[],
  ): Promise<{ room_version: string; event: JsonObject }> {
    const version = await this.#residentVersion(roomId, origin);
    if (versions !== undefined && !versions.includes(version.id)) {
      throw new MatrixError(
        'M_INCOMPATIBLE_ROOM_VERSION',
        `Your server does not support the room's version ${version.id}`,
        { extras: { room_version: version.id } },
      );
    }
    if (!isValidUserId(userId) || parseUserId(userId).serverName !== origin) {
      throw forbidden(`${userId} is not a user of ${origin}`);
    }
    if (membership === 'knock' && !version.knockJoinRule) {
      throw new MatrixError(
        'M_INCOMPATIBLE_ROOM_VERSION',
        `Room version ${version.id} does not support knocking`,
        { extras: { room_version: version.id } },
      );
    }
    const content: JsonObject = { membership };
    if (membership === 'join') {
      const authoriser = await this.#joinAuthoriser(roomId, version, userId);
      if (authoriser !== undefined) content.join_authorised_via_users_server = authoriser;
    }
    const { event, check } = await this.#deps.events.prepare(roomId, {
      type: 'm.room.member',
      stateKey: userId,
      sender: userId,
      content,
    });
    if (check.rejected !== undefined) throw forbidden(check.rejected.reason);
    return { room_version: version.id, event: templateOf(event.pdu, this.#deps.serverName) };
  }

  /**
   * `PUT /v2/send_join`, `/v2/send_leave`, `/v1/send_knock`: verifies the event (co-signing a
   * join this server authorised), checks it against the URL and the auth rules, stores it and
   * forwards it to the other servers in the room. Returns the stored event and the state before
   * it. 400 M_INVALID_PARAM for a bad event, 403 M_FORBIDDEN when the rules refuse it.
   */
  async sendMembership(
    origin: string,
    roomId: string,
    eventId: string,
    pdu: JsonObject,
    membership: RemoteMembership,
  ): Promise<{ event: RoomEvent; stateBefore: StateMap; serversBefore: string[] }> {
    const version = await this.#residentVersion(roomId, origin);
    let submitted = pdu;
    const authoriser =
      pdu.content !== null && typeof pdu.content === 'object' && !Array.isArray(pdu.content)
        ? pdu.content.join_authorised_via_users_server
        : undefined;
    if (
      membership === 'join' &&
      version.restrictedJoinRule &&
      typeof authoriser === 'string' &&
      this.#deps.users.isLocal(authoriser)
    ) {
      // This server vouches for the join: its signature is required (and checked below).
      submitted = addEventSignature(pdu, this.#deps.serverName, this.#deps.signingKey, version);
    }
    const event = await this.#verifySubmitted(submitted, version);
    checkSubmittedMembership(event, { eventId, roomId, membership, origin });

    const { serverName, events, graph } = this.#deps;
    // Checked, then stored (`persistReceived` takes the room's lock): the state before the event
    // follows from its prev events, whatever is sent meanwhile.
    const result = await (async () => {
      const serversBefore = await this.#joinedServers(roomId);
      const [known] = (await graph.eventStatuses([event.eventId])).values();
      if (known !== undefined && !known.outlier) {
        // Sent again (a retry): answer as the first time, if it was accepted.
        if (known.rejectedReason !== undefined || known.softFailed) {
          throw forbidden(`The event was not accepted: ${known.rejectedReason ?? 'soft-failed'}`);
        }
        const stateBefore = (await graph.stateBeforeEvent(event.eventId)) ?? new Map();
        return { stateBefore, serversBefore, stored: false };
      }
      let check;
      try {
        check = await graph.checkEvent(event);
      } catch (error) {
        if (error instanceof MissingEventsError) {
          throw invalidParam(
            `The event refers to events this server does not have: ${error.message}`,
          );
        }
        throw error;
      }
      if (check.rejected !== undefined) throw forbidden(check.rejected.reason);
      if (check.softFailed === true) {
        throw forbidden('The event is not allowed by the current state of the room');
      }
      await events.persistReceived(event, { stateBefore: check.stateBefore });
      return { stateBefore: check.stateBefore, serversBefore, stored: true };
    })();
    if (result.stored) {
      const after = await this.#joinedServers(roomId);
      const destinations = [...new Set([...result.serversBefore, ...after])].filter(
        (server) => server !== serverName && server !== origin,
      );
      if (destinations.length > 0)
        await this.#deps.outbound()?.enqueuePdu(event.eventId, destinations);
    }
    return { event, stateBefore: result.stateBefore, serversBefore: result.serversBefore };
  }

  /** `PUT /v2/send_join`: stores the join and answers with the room's state and auth chain. */
  async sendJoin(
    origin: string,
    roomId: string,
    eventId: string,
    pdu: JsonObject,
  ): Promise<SendJoinAnswer> {
    const { event, stateBefore, serversBefore } = await this.sendMembership(
      origin,
      roomId,
      eventId,
      pdu,
      'join',
    );
    const { graph, serverName } = this.#deps;
    const stateIds = [...stateBefore.values()];
    const chainIds = await graph.authChain([...stateIds, ...event.authEventIds]);
    const inState = new Set(stateIds);
    const chainOnly = [...chainIds].filter((id) => !inState.has(id));
    const found = await graph.getEvents([...stateIds, ...chainOnly]);
    const pdusOf = (ids: readonly string[]) =>
      ids.map((id) => found.get(id)?.pdu).filter((p): p is JsonObject => p !== undefined);
    return {
      origin: serverName,
      state: pdusOf(stateIds),
      auth_chain: pdusOf(chainOnly),
      event: event.pdu,
      members_omitted: false,
      servers_in_room: [...new Set([...serversBefore, serverName])].sort(),
    };
  }

  /** `PUT /v1/send_knock`: stores the knock; answers with the room's stripped state (PDUs). */
  async sendKnock(
    origin: string,
    roomId: string,
    eventId: string,
    pdu: JsonObject,
  ): Promise<{ knock_room_state: JsonObject[] }> {
    const { stateBefore } = await this.sendMembership(origin, roomId, eventId, pdu, 'knock');
    return { knock_room_state: await this.#strippedStatePdus(stateBefore, []) };
  }

  /**
   * `PUT /v2/invite`: an invite of one of this server's users into a room of another server.
   * Co-signed and kept (as an outlier unless this server is in the room) with the room's
   * stripped state, so that /sync shows it; answers the co-signed event.
   */
  async receiveInvite(
    origin: string,
    roomId: string,
    eventId: string,
    body: { room_version: string; event: JsonObject; invite_room_state?: readonly JsonValue[] },
  ): Promise<{ event: JsonObject }> {
    const version = getRoomVersion(body.room_version);
    if (version === undefined) {
      throw new MatrixError(
        'M_INCOMPATIBLE_ROOM_VERSION',
        `This server does not support room version ${body.room_version}`,
        { extras: { room_version: body.room_version } },
      );
    }
    const { serverName, signingKey, graph, events, users } = this.#deps;
    const event = await this.#verifySubmitted(body.event, version);
    checkSubmittedInvite(event, { eventId, roomId, origin, serverName });
    const invitee = event.stateKey as string;
    const user = await users.get(invitee);
    if (user === undefined || user.deactivated) throw forbidden(`User ${invitee} not found`);

    const roomState = body.invite_room_state ?? [];
    const stripped = strippedFromPdus(roomState);
    if (version.roomIdFromCreateEvent && !stripped.some((e) => e.type === 'm.room.create')) {
      throw invalidParam('invite_room_state must hold the m.room.create event');
    }
    const known = await graph.roomVersionOf(roomId);
    if (known !== undefined && known.id !== version.id) {
      throw invalidParam(`Room ${roomId} has version ${known.id}, not ${version.id}`);
    }
    const signed = addEventSignature(event.pdu, serverName, signingKey, version);
    const cosigned: RoomEvent = { ...event, pdu: signed };

    if (await this.#isResident(roomId)) {
      // In the room already: the invite also comes through /send; store it in the graph if its
      // prev events are known, else it waits for that.
      try {
        const check = await graph.checkEvent(cosigned);
        if (check.rejected !== undefined) throw forbidden(check.rejected.reason);
        await events.persistReceived(cosigned, {
          stateBefore: check.stateBefore,
          ...(check.softFailed === true ? { softFailed: true } : {}),
        });
      } catch (error) {
        if (!(error instanceof MissingEventsError)) throw error;
      }
    } else {
      await this.#persistOutlierMembership(
        withUnsigned(cosigned, 'invite_room_state', stripped),
        version,
      );
    }
    return { event: signed };
  }

  // ----------------------------------------------------------------------------------------
  // Joining side

  /** Whether a local user is joined to the room (then this server holds its current state). */
  async isResident(roomId: string): Promise<boolean> {
    return this.#isResident(roomId);
  }

  /**
   * A room alias of another server to its room ID and the servers to join through
   * (`GET /query/directory`); 404 M_NOT_FOUND when that server does not know it.
   */
  async resolveRemoteAlias(alias: string): Promise<{ roomId: string; servers: string[] }> {
    const server = parseRoomAlias(alias).serverName;
    let answer: JsonObject;
    try {
      answer = await this.#deps.client.request(server, {
        method: 'GET',
        path: '/_matrix/federation/v1/query/directory',
        query: { room_alias: alias },
      });
    } catch (error) {
      if (error instanceof FederationRequestError && error.status === 404) {
        throw notFound(`Room alias ${alias} not found`);
      }
      if (error instanceof FederationRequestError && (error.status === 0 || error.status >= 500)) {
        throw notFound(
          `Room alias ${alias} could not be resolved over federation: ${server} could not be reached (${error.message})`,
        );
      }
      throw remoteFailure(server, error);
    }
    if (typeof answer.room_id !== 'string') throw notFound(`Room alias ${alias} not found`);
    const servers = Array.isArray(answer.servers)
      ? answer.servers.filter((s): s is string => typeof s === 'string')
      : [];
    return { roomId: answer.room_id, servers: [server, ...servers] };
  }

  /**
   * Joins `userId` to a room this server is not in, through the first of `servers` (and the
   * room ID's server, and an inviting server) that lets it: make_join, then send_join, then the
   * room's state as the resident server sent it, checked, becomes this server's copy.
   */
  async joinRemote(
    userId: string,
    roomId: string,
    servers: readonly string[],
    content: JsonObject,
  ): Promise<void> {
    const candidates = await this.#candidateServers(roomId, userId, servers);
    await this.#tryServers(candidates, 'join', async (server) => {
      const { event, version } = await this.#makeAndBuild(server, roomId, userId, 'join', content);
      const answer = await this.#deps.client.request(server, {
        method: 'PUT',
        path: `/_matrix/federation/v2/send_join/${encodeURIComponent(roomId)}/${encodeURIComponent(event.eventId)}`,
        body: event.pdu,
      });
      await this.#storeJoinedRoom(server, roomId, version, event, answer);
    });
  }

  /**
   * Rejects an invite (or rescinds a knock) to a room this server is not in: make_leave and
   * send_leave through the inviting server (or the room ID's server). The leave is kept as an
   * outlier so the user's membership becomes `leave`; when no server can be reached, the
   * invite is rejected here only (`#leaveOutOfBand`).
   */
  async leaveRemote(userId: string, roomId: string, content: JsonObject): Promise<void> {
    const candidates = await this.#candidateServers(roomId, userId, []);
    try {
      await this.#tryServers(candidates, 'leave', async (server) => {
        const { event, version } = await this.#makeAndBuild(
          server,
          roomId,
          userId,
          'leave',
          content,
        );
        await this.#deps.client.request(server, {
          method: 'PUT',
          path: `/_matrix/federation/v2/send_leave/${encodeURIComponent(roomId)}/${encodeURIComponent(event.eventId)}`,
          body: event.pdu,
        });
        await this.#persistOutlierMembership(event, version);
      });
    } catch (error) {
      // No resident server could be reached (or none answered): rejected here only.
      if (!isMatrixError(error) || error.status !== 404) throw error;
      if (!(await this.#leaveOutOfBand(userId, roomId, content))) throw error;
    }
  }

  /**
   * Rejects an invite (or rescinds a knock) locally when no server of the room can be reached,
   * as Synapse does: a leave after the invite, signed here and kept as an outlier (never sent),
   * so the user's membership becomes `leave`. False when the user has no such membership.
   */
  async #leaveOutOfBand(userId: string, roomId: string, content: JsonObject): Promise<boolean> {
    const { db, graph, events } = this.#deps;
    const row = await db.read((trx) => selectMembership(trx, roomId, userId));
    if (row?.membership !== 'invite' && row?.membership !== 'knock') return false;
    const previous = await graph.getEvent(row.event_id);
    const version = await graph.roomVersionOf(roomId);
    if (previous === undefined || version === undefined) return false;
    const leave = events.build(
      {
        type: 'm.room.member',
        stateKey: userId,
        sender: userId,
        content: { ...content, membership: 'leave' },
      },
      version,
      roomId,
      [previous],
      [previous],
    );
    await this.#persistOutlierMembership(leave, version);
    return true;
  }

  /** Knocks on a room this server is not in: make_knock and send_knock through `servers`. */
  async knockRemote(
    userId: string,
    roomId: string,
    servers: readonly string[],
    content: JsonObject,
  ): Promise<void> {
    const candidates = await this.#candidateServers(roomId, userId, servers);
    await this.#tryServers(candidates, 'knock', async (server) => {
      const { event, version } = await this.#makeAndBuild(server, roomId, userId, 'knock', content);
      const answer = await this.#deps.client.request(server, {
        method: 'PUT',
        path: `/_matrix/federation/v1/send_knock/${encodeURIComponent(roomId)}/${encodeURIComponent(event.eventId)}`,
        body: event.pdu,
      });
      const state = Array.isArray(answer.knock_room_state) ? answer.knock_room_state : [];
      await this.#persistOutlierMembership(
        withUnsigned(event, 'knock_room_state', strippedFromPdus(state)),
        version,
      );
    });
  }

  /**
   * Invites a user of another server into a room this server is in: the invite is built here,
   * sent to the invitee's server (`PUT /v2/invite`) with the room's stripped state, and the
   * event it co-signed is stored (then sent to the other servers in the room like any local
   * event). The invitee's server refusing gives its error; not reaching it, 502.
   */
  async inviteRemote(
    sender: string,
    roomId: string,
    target: string,
    content: JsonObject,
  ): Promise<void> {
    const { events, graph, client } = this.#deps;
    const { event, version, check } = await events.prepare(roomId, {
      type: 'm.room.member',
      stateKey: target,
      sender,
      content,
    });
    if (check.rejected !== undefined) throw forbidden(check.rejected.reason);
    if (check.softFailed === true)
      throw forbidden('The invite is not allowed by the current state of the room');
    const destination = parseUserId(target).serverName;
    let answer: JsonObject;
    try {
      answer = await client.request(destination, {
        method: 'PUT',
        path: `/_matrix/federation/v2/invite/${encodeURIComponent(roomId)}/${encodeURIComponent(event.eventId)}`,
        body: {
          room_version: version.id,
          event: event.pdu,
          invite_room_state: await this.#strippedStatePdus(check.stateBefore, [sender]),
        },
      });
    } catch (error) {
      throw remoteFailure(destination, error);
    }
    const returned = answer.event;
    if (returned === null || typeof returned !== 'object' || Array.isArray(returned)) {
      throw badGateway(`${destination} did not return the signed invite`);
    }
    const cosigned = await this.#verifyFromRemote(returned, version, destination);
    if (cosigned.eventId !== event.eventId) {
      throw badGateway(`${destination} returned another event than the invite`);
    }
    if (!(await this.#signedBy(cosigned, destination, version))) {
      throw badGateway(`${destination} did not sign the invite`);
    }
    const recheck = await graph.checkEvent(cosigned);
    if (recheck.rejected !== undefined) throw forbidden(recheck.rejected.reason);
    await events.persistReceived(cosigned, {
      stateBefore: recheck.stateBefore,
      ...(recheck.softFailed === true ? { softFailed: true } : {}),
    });
  }

  // ----------------------------------------------------------------------------------------

  /**
   * Stores a member event of a room this server is not in (an invite received, this server's
   * own knock or leave) as an outlier, with the user's membership — so that /sync shows it —
   * and announces it (syncs wake).
   */
  async #persistOutlierMembership(event: RoomEvent, version: RoomVersion): Promise<void> {
    const { events, graph } = this.#deps;
    if ((await graph.roomVersionOf(event.roomId)) === undefined) {
      await graph.createRoom(event.roomId, version.id);
    }
    const membership = event.content.membership;
    const target = event.stateKey;
    if (typeof membership !== 'string' || target === undefined) return;
    let written = false;
    const streamOrdering = await events.persistReceived(event, {
      outlier: true,
      withinTransaction: async (trx, position) => {
        written = true;
        await upsertMembership(trx, membershipChange(event, position));
        await deleteForgottenRoom(trx, target, event.roomId);
      },
    });
    if (!written) return;
    await events.persisted.emit({
      roomId: event.roomId,
      eventId: event.eventId,
      streamOrdering,
      type: event.type,
      stateKey: target,
      sender: event.sender,
      membership,
      builtHere: false,
    });
  }

  /** Asks `server` for a template and builds this server's signed event from it. */
  async #makeAndBuild(
    server: string,
    roomId: string,
    userId: string,
    membership: RemoteMembership,
    content: JsonObject,
  ): Promise<{ event: RoomEvent; version: RoomVersion }> {
    const versions = KNOWN_ROOM_VERSIONS.map((v) => v.id);
    const answer = await this.#deps.client.request(server, {
      method: 'GET',
      path: `/_matrix/federation/v1/make_${membership}/${encodeURIComponent(roomId)}/${encodeURIComponent(userId)}`,
      ...(membership === 'leave' ? {} : { query: { ver: versions } }),
    });
    const versionId = typeof answer.room_version === 'string' ? answer.room_version : '1';
    const version = getRoomVersion(versionId);
    if (version === undefined) {
      throw new MatrixError(
        'M_UNSUPPORTED_ROOM_VERSION',
        `The room's version ${versionId} is not supported by this server`,
      );
    }
    const template = answer.event;
    if (template === null || typeof template !== 'object' || Array.isArray(template)) {
      throw badGateway(`${server} sent no ${membership} template`);
    }
    const event = eventFromTemplate(template, { roomId, userId, membership }, content, {
      version,
      serverName: this.#deps.serverName,
      signingKey: this.#deps.signingKey,
      now: this.#deps.clock.now(),
    });
    return { event, version };
  }

  /**
   * Checks the send_join answer and makes it this server's copy of the room: every event
   * verified (signatures, hashes), the create event of this room and version, the state
   * authorised by the auth chain, the join allowed by that state; then the room, the auth chain
   * and state (as outliers) and the join (with the state before it) are stored.
   */
  async #storeJoinedRoom(
    server: string,
    roomId: string,
    version: RoomVersion,
    built: RoomEvent,
    answer: JsonObject,
  ): Promise<void> {
    const { graph, events } = this.#deps;
    let join = built;
    const returned = answer.event;
    if (returned !== null && typeof returned === 'object' && !Array.isArray(returned)) {
      // A restricted join comes back co-signed by the resident server that authorised it.
      const cosigned = await this.#verifyFromRemote(returned, version, server);
      if (cosigned.eventId !== built.eventId)
        throw badGateway(`${server} returned another join event`);
      join = cosigned;
    }
    const statePdus = Array.isArray(answer.state) ? answer.state : [];
    const chainPdus = Array.isArray(answer.auth_chain) ? answer.auth_chain : [];
    const stateEvents = await this.#remoteEvents.verifyAll(roomId, version, statePdus);
    const verified = new Map([
      ...(await this.#remoteEvents.verifyAll(roomId, version, chainPdus)),
      ...stateEvents,
    ]);
    const state = new Map<StateKey, RoomEvent>();
    for (const event of stateEvents.values()) {
      if (event.stateKey !== undefined) state.set(stateKeyOf(event.type, event.stateKey), event);
    }
    const create = state.get(stateKeyOf('m.room.create', ''));
    if (create === undefined || create.roomId !== roomId) {
      throw badGateway(`${server} sent no create event of ${roomId}`);
    }
    const createVersion = create.content.room_version ?? '1';
    if (createVersion !== version.id) {
      throw badGateway(
        `The room's create event says version ${String(createVersion)}, not ${version.id}`,
      );
    }
    // The auth chain must authorise the state: each event against its own auth events.
    const rejected = authRejections(verified, version);
    const stateMap = new Map<StateKey, string>();
    for (const [key, event] of state) {
      if (!rejected.has(event.eventId)) stateMap.set(key, event.eventId);
    }
    const authState = buildAuthState(
      [...stateMap.values()].map((id) => verified.get(id) as RoomEvent),
    );
    const allowed = authorizeEvent(join, authState, version);
    if (!allowed.allowed)
      throw badGateway(`The room's state does not allow the join: ${allowed.reason}`);

    const existing = await graph.roomVersionOf(roomId);
    if (existing !== undefined && existing.id !== version.id) {
      throw badGateway(`Room ${roomId} is known here with version ${existing.id}`);
    }
    if (existing === undefined) await graph.createRoom(roomId, version.id);
    await this.#remoteEvents.storeOutliers(version, [...verified.values()]);
    const check = await graph.checkEvent(join, { stateBefore: stateMap });
    if (check.rejected !== undefined) {
      throw badGateway(`The join is not allowed by the room's state: ${check.rejected.reason}`);
    }
    // The members the state names become the room's memberships here too (the join's own is
    // written by `persistReceived`).
    const memberEvents = [...stateMap.values()]
      .map((id) => verified.get(id) as RoomEvent)
      .filter((event) => event.type === 'm.room.member' && event.stateKey !== join.stateKey);
    await events.persistReceived(join, {
      stateBefore: stateMap,
      withinTransaction: async (trx, position) => {
        for (const member of memberEvents) {
          await upsertMembership(trx, membershipChange(member, position));
        }
      },
    });
  }

  /**
   * Tries `attempt` with each server in turn: an unreachable server, a 5xx, a 404 or a
   * failover error moves on to the next one; another refusal (403, 400) ends it with that
   * error. When none is left, the last server's error (or 404 M_NOT_FOUND).
   */
  async #tryServers(
    servers: readonly string[],
    what: string,
    attempt: (server: string) => Promise<void>,
  ): Promise<void> {
    let last: MatrixError | undefined;
    for (const server of servers) {
      try {
        await attempt(server);
        return;
      } catch (error) {
        this.#log.info({ destination: server, err: error }, `remote ${what} failed`);
        if (error instanceof FederationRequestError) {
          const passOn =
            error.status >= 400 &&
            error.status < 500 &&
            error.status !== 404 &&
            !FAILOVER_ERRCODES.has(error.errcode ?? '');
          last = remoteFailure(server, error);
          if (passOn) throw last;
          continue;
        }
        if (isMatrixError(error) && error.status === 502) {
          last = error;
          continue;
        }
        throw error;
      }
    }
    // Only unreachable or failing servers: as if the room were unknown.
    if (last === undefined || last.status === 502) {
      const tried = servers.length === 0 ? 'no server to ask' : `tried ${servers.join(', ')}`;
      throw notFound(`No server could be reached over federation to ${what} the room (${tried})`);
    }
    throw last;
  }

  /**
   * The servers to try, in order: those given, the server of an invite or knock the user has,
   * the room ID's server (rooms before v12). This server is left out.
   */
  async #candidateServers(
    roomId: string,
    userId: string,
    servers: readonly string[],
  ): Promise<string[]> {
    const candidates = [...servers];
    const row = await this.#deps.db.read((db) => selectMembership(db, roomId, userId));
    if (row !== undefined && row.sender !== userId && isValidUserId(row.sender)) {
      candidates.push(parseUserId(row.sender).serverName);
    }
    try {
      const parsed = parseRoomId(roomId);
      if (parsed.kind === 'domain') candidates.push(parsed.serverName);
    } catch {
      // A malformed room ID has no server to try.
    }
    return [...new Set(candidates)].filter((server) => server !== this.#deps.serverName);
  }

  /**
   * The version of a room this server is in; 404 M_NOT_FOUND otherwise, 403 M_FORBIDDEN when
   * the room's server ACL denies `origin`.
   */
  async #residentVersion(roomId: string, origin: string): Promise<RoomVersion> {
    const version = await this.#deps.graph.roomVersionOf(roomId);
    if (version === undefined || !(await this.#isResident(roomId))) {
      throw notFound(`Room ${roomId} is not known to this server`);
    }
    if (!(await this.#access.aclAllows(roomId, origin))) {
      throw forbidden(`${origin} is denied by the server ACL of the room`);
    }
    return version;
  }

  async #isResident(roomId: string): Promise<boolean> {
    const members = await this.#deps.db.read((db) => selectMembersOfRoom(db, roomId, ['join']));
    return members.some((member) => this.#deps.users.isLocal(member.user_id));
  }

  /** The servers of the room's joined members. */
  async #joinedServers(roomId: string): Promise<string[]> {
    const members = await this.#deps.db.read((db) => selectMembersOfRoom(db, roomId, ['join']));
    const servers = new Set<string>();
    for (const member of members) {
      if (isValidUserId(member.user_id)) servers.add(parseUserId(member.user_id).serverName);
    }
    return [...servers];
  }

  /**
   * For a join of a restricted (v8+) or knock_restricted (v10+) room by a user not invited: a
   * local member who may invite, if the user is in one of the allowed rooms. 400
   * M_UNABLE_TO_AUTHORISE_JOIN when this server knows none of those rooms, 403 when the user is
   * in none, 400 M_UNABLE_TO_GRANT_JOIN when no local member may invite.
   */
  async #joinAuthoriser(
    roomId: string,
    version: RoomVersion,
    userId: string,
  ): Promise<string | undefined> {
    const { graph, db, users } = this.#deps;
    const state = new StateView(roomId, version, await graph.currentState(roomId), graph);
    const joinRules = await state.content('m.room.join_rules');
    const rule = joinRules?.join_rule;
    const restricted =
      (rule === 'restricted' && version.restrictedJoinRule) ||
      (rule === 'knock_restricted' && version.knockRestrictedJoinRule);
    if (!restricted) return undefined;
    const membership = await state.membership(userId);
    if (membership === 'join' || membership === 'invite') return undefined;
    const allow = Array.isArray(joinRules?.allow) ? joinRules.allow : [];
    let knownRooms = 0;
    let allowed = false;
    for (const condition of allow) {
      if (condition === null || typeof condition !== 'object' || Array.isArray(condition)) continue;
      if (condition.type !== 'm.room_membership' || typeof condition.room_id !== 'string') continue;
      const allowedRoom = condition.room_id;
      if (!(await this.#isResident(allowedRoom))) continue;
      knownRooms += 1;
      const row = await db.read((trx) => selectMembership(trx, allowedRoom, userId));
      if (row?.membership === 'join') {
        allowed = true;
        break;
      }
    }
    if (!allowed && knownRooms === 0) {
      throw new MatrixError(
        'M_UNABLE_TO_AUTHORISE_JOIN',
        'This server is in none of the rooms that give access to this room',
      );
    }
    if (!allowed) {
      throw forbidden(
        'You need an invite, or to be in one of the rooms that give access to this room',
      );
    }
    const levels = await state.powerLevels();
    const inviteLevel = levels.named('invite');
    const members = await db.read((trx) => selectMembersOfRoom(trx, roomId, ['join']));
    for (const member of members) {
      if (!users.isLocal(member.user_id)) continue;
      if ((await state.membership(member.user_id)) !== 'join') continue;
      if (levels.userLevel(member.user_id) >= inviteLevel) return member.user_id;
    }
    throw new MatrixError(
      'M_UNABLE_TO_GRANT_JOIN',
      'No member of this server can authorise joining this room; try another server',
    );
  }

  /** The stripped state essentials (and members' events) of `state`, as full PDUs. */
  async #strippedStatePdus(state: StateMap, members: readonly string[]): Promise<JsonObject[]> {
    const keys = STRIPPED_STATE_TYPES.map((type) => stateKeyOf(type, ''));
    for (const userId of members) keys.push(stateKeyOf('m.room.member', userId));
    const ids = [...new Set(keys.map((key) => state.get(key)).filter((id) => id !== undefined))];
    const found = await this.#deps.graph.getEvents(ids);
    return ids
      .map((id) => found.get(id)?.pdu)
      .filter((pdu): pdu is JsonObject => pdu !== undefined);
  }

  /** A submitted event, verified; 400 M_INVALID_PARAM when it fails (or its hash mismatches). */
  async #verifySubmitted(pdu: JsonObject, version: RoomVersion): Promise<RoomEvent> {
    try {
      const verified = await verifyPdu(pdu, version, this.#deps.remoteKeys);
      if (verified.redacted) throw invalidParam("The event's content hash does not match");
      return verified.event;
    } catch (error) {
      if (error instanceof PduRejected)
        throw invalidParam(`The event is not valid: ${error.message}`);
      throw error;
    }
  }

  /** An event returned by `server`, verified; 502 when it fails. */
  async #verifyFromRemote(
    pdu: JsonObject,
    version: RoomVersion,
    server: string,
  ): Promise<RoomEvent> {
    try {
      const verified = await verifyPdu(pdu, version, this.#deps.remoteKeys);
      if (verified.redacted) throw new PduRejected('content hash mismatch');
      return verified.event;
    } catch (error) {
      if (error instanceof PduRejected) {
        throw badGateway(`${server} returned an invalid event: ${error.message}`);
      }
      throw error;
    }
  }

  /** Whether `server` validly signed the event. */
  async #signedBy(event: RoomEvent, server: string, version: RoomVersion): Promise<boolean> {
    for (const keyId of signatureKeyIds(event.pdu, server)) {
      const key = await this.#deps.remoteKeys.verifyKey(server, keyId, event.originServerTs);
      if (key !== undefined && verifyEventSignature(event.pdu, server, keyId, key, version)) {
        return true;
      }
    }
    return false;
  }
}

/** The membership a member event records (at `streamOrdering`). */
function membershipChange(event: RoomEvent, streamOrdering: number): MembershipChange {
  const { content } = event;
  return {
    roomId: event.roomId,
    userId: event.stateKey as string,
    membership: String(content.membership),
    eventId: event.eventId,
    streamOrdering,
    sender: event.sender,
    displayname: typeof content.displayname === 'string' ? content.displayname : null,
    avatarUrl: typeof content.avatar_url === 'string' ? content.avatar_url : null,
  };
}

/**
 * The events among `events` the auth rules refuse against their own auth events (in auth
 * order, an event whose auth event is refused or missing is refused too).
 */
function authRejections(events: ReadonlyMap<string, RoomEvent>, version: RoomVersion): Set<string> {
  const rejected = new Set<string>();
  for (const event of authOrder(events)) {
    const authEvents = event.authEventIds.map((id) => events.get(id));
    if (
      authEvents.some((authEvent) => authEvent === undefined || rejected.has(authEvent.eventId))
    ) {
      rejected.add(event.eventId);
      continue;
    }
    const authState = buildAuthState(authEvents as RoomEvent[]);
    if (version.roomIdFromCreateEvent && event.type !== 'm.room.create') {
      const create = events.get(`$${event.roomId.slice(1)}`);
      if (create !== undefined) authState.set(stateKeyOf('m.room.create', ''), create);
    }
    if (!authorizeEvent(event, authState, version).allowed) rejected.add(event.eventId);
  }
  return rejected;
}

/** A remote server's refusal as this server's error (its errcode when it is one we know). */
function remoteFailure(server: string, error: unknown): MatrixError {
  if (!(error instanceof FederationRequestError)) {
    return isMatrixError(error) ? error : badGateway(`${server}: ${(error as Error).message}`);
  }
  if (error.status === 0 || error.status >= 500) {
    return badGateway(`${server} could not be reached or failed: ${error.message}`);
  }
  const errcode = knownErrcode(error.errcode);
  return new MatrixError(errcode, `${server}: ${error.message}`, { status: error.status });
}

function knownErrcode(errcode: string | undefined): MatrixError['errcode'] {
  const known: ReadonlySet<string> = new Set([
    'M_FORBIDDEN',
    'M_NOT_FOUND',
    'M_INCOMPATIBLE_ROOM_VERSION',
    'M_UNSUPPORTED_ROOM_VERSION',
    'M_UNABLE_TO_AUTHORISE_JOIN',
    'M_UNABLE_TO_GRANT_JOIN',
    'M_LIMIT_EXCEEDED',
    'M_BAD_JSON',
  ]);
  return errcode !== undefined && known.has(errcode)
    ? (errcode as MatrixError['errcode'])
    : 'M_UNKNOWN';
}

function badGateway(message: string): MatrixError {
  return new MatrixError('M_UNKNOWN', message, { status: 502 });
}
