/**
 * The published room directory of this server (client-server API "Published room directory"):
 * which rooms are listed, and the list itself with each room's public summary. The directory
 * of another server would need federation.
 */

import { forbidden, invalidParam, notFound } from '../../core/errors.js';
import type { JsonObject } from '../../core/canonical-json.js';
import { countJoinedMembers } from '../../storage/rooms/memberships.js';
import {
  selectDirectoryVisibility,
  selectPublicRoomIds,
  upsertDirectoryVisibility,
} from '../../storage/rooms/directory.js';
import type { DirectoryVisibility } from '../../storage/rooms/directory.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import type { RoomGraph } from '../room-graph/room-graph.js';
import { canEditRoomAliases } from './room-aliases.js';
import { StateView } from './state-view.js';

export interface PublicRoomsRequest {
  readonly limit?: number;
  readonly since?: string;
  readonly server?: string;
  readonly genericSearchTerm?: string;
  /** Room types to list; `null` stands for rooms without a type. */
  readonly roomTypes?: readonly (string | null)[];
}

export interface PublicRoomChunk {
  room_id: string;
  num_joined_members: number;
  world_readable: boolean;
  guest_can_join: boolean;
  name?: string;
  topic?: string;
  canonical_alias?: string;
  avatar_url?: string;
  join_rule?: string;
  room_type?: string;
}

export interface PublicRoomsResponse {
  chunk: PublicRoomChunk[];
  next_batch?: string;
  prev_batch?: string;
  total_room_count_estimate: number;
}

/** `since` tokens are `p<offset>` into the list. */
const SINCE = /^p(\d{1,9})$/;
const DEFAULT_LIMIT = 100;

export class RoomDirectory {
  constructor(
    private readonly db: TenantDatabase,
    private readonly graph: RoomGraph,
    private readonly serverName: string,
  ) {}

  /** 404 M_NOT_FOUND for a room this server does not have. */
  async visibility(roomId: string): Promise<DirectoryVisibility> {
    if ((await this.graph.roomVersionOf(roomId)) === undefined) throw notFound('Room not found');
    return this.db.read((db) => selectDirectoryVisibility(db, roomId));
  }

  /**
   * Lists or unlists a room: for server admins, and members who may change the room's
   * `m.room.canonical_alias` (as Synapse decides it).
   */
  async setVisibility(
    userId: string,
    roomId: string,
    visibility: DirectoryVisibility,
    isAdmin: boolean,
  ): Promise<void> {
    if ((await this.graph.roomVersionOf(roomId)) === undefined) throw notFound('Room not found');
    if (!isAdmin && !(await canEditRoomAliases(this.graph, roomId, userId))) {
      throw forbidden('You are not allowed to change whether this room is in the directory');
    }
    await this.db.transact((trx) => upsertDirectoryVisibility(trx, roomId, visibility));
  }

  /** `GET`/`POST /publicRooms`: most joined members first, then by room ID. */
  async publicRooms(request: PublicRoomsRequest): Promise<PublicRoomsResponse> {
    if (request.server !== undefined && request.server !== this.serverName) {
      throw notFound(
        `The room directory of ${request.server} is asked of that server, not read here`,
      );
    }
    let offset = 0;
    if (request.since !== undefined) {
      const match = SINCE.exec(request.since);
      if (match === null) throw invalidParam('Invalid since token');
      offset = Number(match[1]);
    }
    const limit = request.limit !== undefined && request.limit > 0 ? request.limit : DEFAULT_LIMIT;
    const roomIds = await this.db.read((db) => selectPublicRoomIds(db));
    const joined = await this.db.read((db) => countJoinedMembers(db, roomIds));
    const summaries: PublicRoomChunk[] = [];
    for (const roomId of roomIds) {
      const summary = await this.#summary(roomId, joined.get(roomId) ?? 0);
      if (summary !== undefined && matches(summary, request)) summaries.push(summary);
    }
    summaries.sort(
      (a, b) =>
        b.num_joined_members - a.num_joined_members ||
        (a.room_id < b.room_id ? -1 : a.room_id > b.room_id ? 1 : 0),
    );
    const response: PublicRoomsResponse = {
      chunk: summaries.slice(offset, offset + limit),
      total_room_count_estimate: summaries.length,
    };
    if (offset + limit < summaries.length) response.next_batch = `p${offset + limit}`;
    if (offset > 0) response.prev_batch = `p${Math.max(0, offset - limit)}`;
    return response;
  }

  async #summary(roomId: string, joinedMembers: number): Promise<PublicRoomChunk | undefined> {
    const version = await this.graph.roomVersionOf(roomId);
    if (version === undefined) return undefined;
    const state = new StateView(roomId, version, await this.graph.currentState(roomId), this.graph);
    const chunk: PublicRoomChunk = {
      room_id: roomId,
      num_joined_members: joinedMembers,
      world_readable:
        (await state.stringField('m.room.history_visibility', 'history_visibility')) ===
        'world_readable',
      guest_can_join:
        (await state.stringField('m.room.guest_access', 'guest_access')) === 'can_join',
    };
    const name = await state.stringField('m.room.name', 'name');
    if (name !== undefined && name !== '') chunk.name = name;
    const topic = plainTopic(await state.content('m.room.topic'));
    if (topic !== undefined && topic !== '') chunk.topic = topic;
    const alias = await state.stringField('m.room.canonical_alias', 'alias');
    if (alias !== undefined) chunk.canonical_alias = alias;
    const avatar = await state.stringField('m.room.avatar', 'url');
    if (avatar !== undefined && avatar !== '') chunk.avatar_url = avatar;
    const joinRule = await state.stringField('m.room.join_rules', 'join_rule');
    if (joinRule !== undefined) chunk.join_rule = joinRule;
    const roomType = await state.stringField('m.room.create', 'type');
    if (roomType !== undefined) chunk.room_type = roomType;
    return chunk;
  }
}

/** The plain-text topic: `m.topic`'s `text/plain` representation, else `topic`. */
export function plainTopic(content: JsonObject | undefined): string | undefined {
  if (content === undefined) return undefined;
  const block = content['m.topic'];
  if (typeof block === 'object' && block !== null && !Array.isArray(block)) {
    const texts = block['m.text'];
    if (Array.isArray(texts)) {
      for (const text of texts) {
        if (typeof text !== 'object' || text === null || Array.isArray(text)) continue;
        const mimetype = text.mimetype ?? 'text/plain';
        if (mimetype === 'text/plain' && typeof text.body === 'string') return text.body;
      }
    }
  }
  return typeof content.topic === 'string' ? content.topic : undefined;
}

function matches(summary: PublicRoomChunk, request: PublicRoomsRequest): boolean {
  if (request.roomTypes !== undefined && request.roomTypes.length > 0) {
    if (!request.roomTypes.includes(summary.room_type ?? null)) return false;
  }
  const term = request.genericSearchTerm?.trim().toLowerCase();
  if (term === undefined || term === '') return true;
  return [summary.name, summary.topic, summary.canonical_alias, summary.room_id].some(
    (text) => text !== undefined && text.toLowerCase().includes(term),
  );
}
