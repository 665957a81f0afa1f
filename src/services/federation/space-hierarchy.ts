/**
 * Space hierarchies ("Spaces": `m.space.child` state events): the summary of a room and of the
 * rooms it lists as children, for clients (`GET /_matrix/client/v1/rooms/{roomId}/hierarchy`,
 * a depth-first walk of the tree, paginated) and for other servers (`GET /_matrix/federation/v1/
 * hierarchy/{roomId}`, one room and its direct children, not paginated). Rooms known here are
 * described from their current state; children this server is not in are asked of the servers
 * in their `via` (federation `/hierarchy`, answers kept for 5 minutes).
 *
 * A room is shown to a user who is joined or invited, or may join or knock without an invite
 * (public, knock, knock_restricted join rules; restricted ones when joined to an allowed room),
 * or can read it (`world_readable`); to a server, likewise with "a user of that server is joined"
 * in place of the user's own membership. It lives with federation because it needs the client.
 */

import type { Logger } from 'pino';
import type { JsonObject } from '../../core/canonical-json.js';
import { forbidden, invalidParam, notFound } from '../../core/errors.js';
import type { RoomEvent } from '../../protocol/room-event.js';
import { countJoinedMembers, selectMembership } from '../../storage/rooms/memberships.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import type { RoomGraph } from '../room-graph/room-graph.js';
import { plainTopic, type PublicRoomChunk } from '../rooms/room-directory.js';
import { StateView } from '../rooms/state-view.js';
import type { FederationClient } from './federation-contracts.js';
import { FederationRequestError } from './federation-contracts.js';
import type { ServerRoomAccess } from './server-room-access.js';

/** An `m.space.child` event as hierarchies show it: stripped, with its `origin_server_ts`. */
export interface ChildState {
  type: string;
  state_key: string;
  content: JsonObject;
  sender: string;
  origin_server_ts: number;
}

/** The spec's `RoomSummary`, with the room's `children_state`. */
export interface HierarchyRoom extends PublicRoomChunk {
  allowed_room_ids?: string[];
  encryption?: string;
  room_version?: string;
  children_state: ChildState[];
}

/** The federation answer. */
export interface FederationHierarchy {
  room: HierarchyRoom;
  children: HierarchyRoom[];
  inaccessible_children: string[];
}

export interface HierarchyRequest {
  readonly suggestedOnly: boolean;
  readonly limit?: number;
  readonly maxDepth?: number;
  readonly from?: string;
}

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 100;
const MAX_DEPTH = 50;
/** A client walk reads at most this many rooms (local or remote), whatever the page. */
const MAX_ROOMS_WALKED = 1000;
/** Children of one space followed (Synapse: 50). */
const MAX_CHILDREN_PER_SPACE = 50;
const REMOTE_CACHE_MS = 5 * 60 * 1000;
const REMOTE_CACHE_SIZE = 256;
/** How long one remote `/hierarchy` may take (a client waits). */
const REQUEST_TIMEOUT_MS = 10_000;
/** `via` servers asked for one room. */
const MAX_VIA_TRIED = 3;

/** Who is asking: a local user, or another server. */
type Requester = { user: string } | { server: string };

export interface SpaceHierarchyDeps {
  serverName: string;
  db: TenantDatabase;
  graph: RoomGraph;
  access: ServerRoomAccess;
  client: FederationClient;
  logger: Logger;
  now: () => number;
}

export class SpaceHierarchy {
  readonly #deps: SpaceHierarchyDeps;
  /** Remote answers by room ID and `suggested_only`, with when they were fetched. */
  readonly #remote = new Map<string, { at: number; answer: FederationHierarchy | undefined }>();

  constructor(deps: SpaceHierarchyDeps) {
    this.#deps = deps;
  }

  /**
   * `GET /_matrix/federation/v1/hierarchy/{roomId}`: 404 M_NOT_FOUND for a room not known here
   * or that `origin` could not peek or join; children known here that it could not are listed
   * in `inaccessible_children`, those not known here are left out.
   */
  async forServer(
    origin: string,
    roomId: string,
    suggestedOnly: boolean,
  ): Promise<FederationHierarchy> {
    await this.#deps.access.requireAllowed(roomId, origin);
    const requester = { server: origin };
    const room = await this.#localSummary(roomId, suggestedOnly);
    if (room === undefined || !(await this.#mayPeekOrJoin(requester, room))) {
      throw notFound('Room does not exist or is not accessible');
    }
    const children: HierarchyRoom[] = [];
    const inaccessible: string[] = [];
    for (const child of room.children_state.slice(0, MAX_CHILDREN_PER_SPACE)) {
      const summary = await this.#localSummary(child.state_key, suggestedOnly);
      if (summary === undefined) continue;
      if (await this.#mayPeekOrJoin(requester, summary)) children.push(summary);
      else inaccessible.push(child.state_key);
    }
    return { room, children, inaccessible_children: inaccessible };
  }

  /**
   * `GET /_matrix/client/v1/rooms/{roomId}/hierarchy`: the rooms of the tree under `roomId`
   * that the user may see, depth first, children in the spec's order. 403 M_FORBIDDEN when
   * the root is unknown or not accessible; 400 M_INVALID_PARAM for a bad `from`, or one given
   * with other `suggested_only`/`max_depth` than the first request.
   */
  async forUser(
    userId: string,
    roomId: string,
    request: HierarchyRequest,
  ): Promise<{ rooms: HierarchyRoom[]; next_batch?: string }> {
    const limit = Math.min(request.limit ?? DEFAULT_LIMIT, MAX_LIMIT);
    const maxDepth = Math.min(request.maxDepth ?? MAX_DEPTH, MAX_DEPTH);
    const suggested = request.suggestedOnly;
    let skip = 0;
    if (request.from !== undefined) {
      const token = parseFromToken(request.from);
      if (token.maxDepth !== maxDepth || token.suggestedOnly !== suggested) {
        throw invalidParam('suggested_only and max_depth cannot change on paginated requests');
      }
      skip = token.offset;
    }
    const requester = { user: userId };
    // A root this server is not in is asked of the room ID's server (rooms before v12).
    const roomServer = roomId.includes(':') ? [roomId.slice(roomId.indexOf(':') + 1)] : [];
    const root = await this.#summary(roomId, roomServer, suggested);
    if (root === undefined || !(await this.#mayPeekOrJoin(requester, root))) {
      throw forbidden('You may not view or peek on this room');
    }

    const rooms: HierarchyRoom[] = [];
    const seen = new Set<string>([roomId]);
    // Depth first: a stack of rooms to visit (the next one last), each with its depth.
    const stack: Array<{ room: HierarchyRoom; depth: number }> = [{ room: root, depth: 0 }];
    let index = 0;
    let walked = 0;
    while (stack.length > 0 && walked < MAX_ROOMS_WALKED) {
      const { room, depth } = stack.pop() as { room: HierarchyRoom; depth: number };
      if (index >= skip) {
        if (rooms.length === limit) {
          return { rooms, next_batch: formatFromToken(index, maxDepth, suggested) };
        }
        rooms.push(room);
      }
      index += 1;
      if (depth >= maxDepth) continue;
      const children: HierarchyRoom[] = [];
      for (const child of room.children_state.slice(0, MAX_CHILDREN_PER_SPACE)) {
        if (seen.has(child.state_key)) continue;
        seen.add(child.state_key);
        walked += 1;
        const via = stringArray(child.content.via);
        const summary = await this.#summary(child.state_key, via, suggested, room.room_id);
        if (summary !== undefined && (await this.#mayPeekOrJoin(requester, summary))) {
          children.push(summary);
        }
      }
      for (const child of children.reverse()) stack.push({ room: child, depth: depth + 1 });
    }
    return { rooms };
  }

  /**
   * A room's summary: from its state if this server has it, else from a remote `/hierarchy`
   * (of the room itself, or found among the children of `parent`'s answer).
   */
  async #summary(
    roomId: string,
    via: readonly string[],
    suggestedOnly: boolean,
    parent?: string,
  ): Promise<HierarchyRoom | undefined> {
    const local = await this.#localSummary(roomId, suggestedOnly);
    if (local !== undefined) return local;
    if (parent !== undefined) {
      const fromParent = this.#cached(parent, suggestedOnly)?.children.find(
        (child) => child.room_id === roomId,
      );
      // The parent's answer describes its children, their `children_state` included.
      if (fromParent !== undefined) return withOrderedChildren(fromParent, suggestedOnly);
    }
    const answer = await this.#fetchRemote(roomId, via, suggestedOnly);
    return answer === undefined ? undefined : withOrderedChildren(answer.room, suggestedOnly);
  }

  #cached(roomId: string, suggestedOnly: boolean): FederationHierarchy | undefined {
    const entry = this.#remote.get(`${suggestedOnly ? 's' : 'a'}${roomId}`);
    return entry !== undefined && this.#deps.now() - entry.at < REMOTE_CACHE_MS
      ? entry.answer
      : undefined;
  }

  async #fetchRemote(
    roomId: string,
    via: readonly string[],
    suggestedOnly: boolean,
  ): Promise<FederationHierarchy | undefined> {
    const key = `${suggestedOnly ? 's' : 'a'}${roomId}`;
    const entry = this.#remote.get(key);
    if (entry !== undefined && this.#deps.now() - entry.at < REMOTE_CACHE_MS) return entry.answer;
    let answer: FederationHierarchy | undefined;
    const servers = via.filter((server) => server !== this.#deps.serverName);
    for (const server of servers.slice(0, MAX_VIA_TRIED)) {
      try {
        const body = await this.#deps.client.request(server, {
          method: 'GET',
          path: `/_matrix/federation/v1/hierarchy/${encodeURIComponent(roomId)}`,
          query: { suggested_only: suggestedOnly ? 'true' : 'false' },
          timeoutMs: REQUEST_TIMEOUT_MS,
        });
        answer = parseFederationHierarchy(body, roomId);
        if (answer !== undefined) break;
      } catch (error) {
        if (!(error instanceof FederationRequestError)) throw error;
        this.#deps.logger.info(
          { room_id: roomId, destination: server, err: error },
          'remote hierarchy not fetched',
        );
      }
    }
    if (this.#remote.size >= REMOTE_CACHE_SIZE) {
      this.#remote.delete(this.#remote.keys().next().value as string);
    }
    this.#remote.set(key, { at: this.#deps.now(), answer });
    return answer;
  }

  /** The summary of a room this server has the state of; undefined otherwise. */
  async #localSummary(roomId: string, suggestedOnly: boolean): Promise<HierarchyRoom | undefined> {
    const { graph, db } = this.#deps;
    const version = await graph.roomVersionOf(roomId);
    if (version === undefined || (await graph.forwardExtremities(roomId)).length === 0) {
      return undefined;
    }
    const state = new StateView(roomId, version, await graph.currentState(roomId), graph);
    const joined = (await db.read((d) => countJoinedMembers(d, [roomId]))).get(roomId) ?? 0;
    const room: HierarchyRoom = {
      room_id: roomId,
      num_joined_members: joined,
      world_readable:
        (await state.stringField('m.room.history_visibility', 'history_visibility')) ===
        'world_readable',
      guest_can_join:
        (await state.stringField('m.room.guest_access', 'guest_access')) === 'can_join',
      room_version: version.id,
      children_state: [],
    };
    const name = await state.stringField('m.room.name', 'name');
    if (name !== undefined && name !== '') room.name = name;
    const topic = plainTopic(await state.content('m.room.topic'));
    if (topic !== undefined && topic !== '') room.topic = topic;
    const alias = await state.stringField('m.room.canonical_alias', 'alias');
    if (alias !== undefined) room.canonical_alias = alias;
    const avatar = await state.stringField('m.room.avatar', 'url');
    if (avatar !== undefined && avatar !== '') room.avatar_url = avatar;
    const joinRules = await state.content('m.room.join_rules');
    const joinRule = joinRules?.join_rule;
    if (typeof joinRule === 'string') room.join_rule = joinRule;
    if (joinRule === 'restricted' || joinRule === 'knock_restricted') {
      room.allowed_room_ids = allowedRoomIds(joinRules);
    }
    const roomType = await state.stringField('m.room.create', 'type');
    if (roomType !== undefined) room.room_type = roomType;
    const encryption = await state.stringField('m.room.encryption', 'algorithm');
    if (encryption === 'm.megolm.v1.aes-sha2') room.encryption = encryption;
    room.children_state = childStates(await state.eventsOfType('m.space.child'), suggestedOnly);
    return room;
  }

  /** The spec's conditions for listing a room to a user or a server (see the module comment). */
  async #mayPeekOrJoin(requester: Requester, room: HierarchyRoom): Promise<boolean> {
    const { graph, db, access } = this.#deps;
    const known = (await graph.forwardExtremities(room.room_id)).length > 0;
    if ('user' in requester) {
      const row = await db.read((d) => selectMembership(d, room.room_id, requester.user));
      if (row?.membership === 'ban') return false;
      if (row?.membership === 'join' || row?.membership === 'invite') return true;
    } else if (
      known &&
      (await access.hasMember(await graph.currentState(room.room_id), requester.server, ['join']))
    ) {
      return true;
    }
    const rule = room.join_rule;
    if (room.world_readable || rule === 'public' || rule === 'knock') return true;
    if (rule === 'knock_restricted') return true;
    if (rule === 'restricted') {
      for (const allowed of room.allowed_room_ids ?? []) {
        if ('user' in requester) {
          const row = await db.read((d) => selectMembership(d, allowed, requester.user));
          if (row?.membership === 'join') return true;
        } else if ((await graph.forwardExtremities(allowed)).length > 0) {
          const state = await graph.currentState(allowed);
          if (await access.hasMember(state, requester.server, ['join'])) return true;
        }
      }
    }
    return false;
  }
}

/**
 * The valid `m.space.child` events (a room ID as state key, a non-empty `via` of strings), only
 * suggested ones if asked, in the spec's order: those with a valid `order` by it, then by
 * `origin_server_ts`, then by room ID.
 */
function childStates(events: readonly RoomEvent[], suggestedOnly: boolean): ChildState[] {
  return orderChildren(
    events
      .filter((event) => event.stateKey !== undefined && event.stateKey.startsWith('!'))
      .map((event) => ({
        type: event.type,
        state_key: event.stateKey as string,
        content: event.content,
        sender: event.sender,
        origin_server_ts: event.originServerTs,
      })),
    suggestedOnly,
  );
}

function orderChildren(children: readonly ChildState[], suggestedOnly: boolean): ChildState[] {
  const valid = children.filter(
    (child) =>
      stringArray(child.content.via).length > 0 &&
      (!suggestedOnly || child.content.suggested === true),
  );
  const orderOf = (child: ChildState) => {
    const order = child.content.order;
    return typeof order === 'string' && order.length <= 50 && /^[\x20-\x7E]*$/.test(order)
      ? order
      : undefined;
  };
  return valid.sort((a, b) => {
    const [orderA, orderB] = [orderOf(a), orderOf(b)];
    if (orderA !== undefined && orderB === undefined) return -1;
    if (orderA === undefined && orderB !== undefined) return 1;
    if (orderA !== undefined && orderB !== undefined && orderA !== orderB) {
      return orderA < orderB ? -1 : 1;
    }
    return (
      a.origin_server_ts - b.origin_server_ts ||
      (a.state_key < b.state_key ? -1 : a.state_key > b.state_key ? 1 : 0)
    );
  });
}

/** A remote summary with its children validated and ordered as local ones are. */
function withOrderedChildren(room: HierarchyRoom, suggestedOnly: boolean): HierarchyRoom {
  const children = (Array.isArray(room.children_state) ? room.children_state : []).filter(
    (child): child is ChildState =>
      typeof child === 'object' &&
      child !== null &&
      child.type === 'm.space.child' &&
      typeof child.state_key === 'string' &&
      child.state_key.startsWith('!') &&
      typeof child.content === 'object' &&
      child.content !== null &&
      typeof child.origin_server_ts === 'number',
  );
  return { ...room, children_state: orderChildren(children, suggestedOnly) };
}

/** A remote `/hierarchy` answer, if it is about `roomId` and has the required fields. */
function parseFederationHierarchy(
  body: JsonObject,
  roomId: string,
): FederationHierarchy | undefined {
  const isSummary = (value: unknown): value is HierarchyRoom =>
    typeof value === 'object' &&
    value !== null &&
    typeof (value as HierarchyRoom).room_id === 'string' &&
    typeof (value as HierarchyRoom).num_joined_members === 'number';
  const room = body.room;
  if (!isSummary(room) || room.room_id !== roomId) return undefined;
  const children: HierarchyRoom[] = Array.isArray(body.children)
    ? (body.children as unknown[]).filter(isSummary)
    : [];
  return {
    room,
    children: children.map((child) => ({
      ...child,
      children_state: Array.isArray(child.children_state) ? child.children_state : [],
    })),
    inaccessible_children: stringArray(body.inaccessible_children),
  };
}

function allowedRoomIds(joinRules: JsonObject | undefined): string[] {
  const allow = joinRules?.allow;
  if (!Array.isArray(allow)) return [];
  return allow
    .filter(
      (entry): entry is JsonObject =>
        typeof entry === 'object' &&
        entry !== null &&
        !Array.isArray(entry) &&
        entry.type === 'm.room_membership' &&
        typeof entry.room_id === 'string',
    )
    .map((entry) => entry.room_id as string);
}

function stringArray(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((entry) => typeof entry === 'string') : [];
}

/** `from` tokens: `<offset>.<max_depth>.<0|1 suggested_only>`. */
function formatFromToken(offset: number, maxDepth: number, suggestedOnly: boolean): string {
  return `${offset}.${maxDepth}.${suggestedOnly ? 1 : 0}`;
}

function parseFromToken(token: string): {
  offset: number;
  maxDepth: number;
  suggestedOnly: boolean;
} {
  const match = /^(\d{1,6})\.(\d{1,3})\.([01])$/.exec(token);
  if (match === null) throw invalidParam('Unknown pagination token');
  return {
    offset: Number(match[1]),
    maxDepth: Number(match[2]),
    suggestedOnly: match[3] === '1',
  };
}
