/**
 * Room aliases of this server (client-server API "Room aliases"): `#name:server` → room ID.
 * Only aliases of this server are stored; resolving another server's alias needs federation.
 */

import { MatrixError, forbidden, invalidParam, notFound } from '../../core/errors.js';
import { parseRoomAlias } from '../../core/identifiers.js';
import {
  deleteAlias,
  insertAlias,
  selectAlias,
  selectAliasesOfRoom,
} from '../../storage/rooms/aliases.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import type { RoomGraph } from '../room-graph/room-graph.js';
import type { HistoryVisibility } from './history-visibility.js';
import { StateView } from './state-view.js';
import { selectMembership } from '../../storage/rooms/memberships.js';

export interface ResolvedAlias {
  room_id: string;
  servers: string[];
}

export class RoomAliases {
  constructor(
    private readonly db: TenantDatabase,
    private readonly graph: RoomGraph,
    private readonly visibility: HistoryVisibility,
    private readonly serverName: string,
  ) {}

  isLocal(alias: string): boolean {
    return parseRoomAlias(alias).serverName === this.serverName;
  }

  /** The room a local alias points to; undefined for unknown and other servers' aliases. */
  async lookup(alias: string): Promise<string | undefined> {
    if (!this.isLocal(alias)) return undefined;
    return (await this.db.read((db) => selectAlias(db, alias)))?.room_id;
  }

  /** `GET /directory/room/{roomAlias}`: 404 M_NOT_FOUND if unknown (or another server's). */
  async resolve(alias: string): Promise<ResolvedAlias> {
    if (!this.isLocal(alias)) {
      throw notFound(
        `Room alias ${alias} belongs to another server: it is resolved by asking that server`,
      );
    }
    const roomId = await this.lookup(alias);
    if (roomId === undefined) throw notFound(`Room alias ${alias} not found`);
    return { room_id: roomId, servers: [this.serverName] };
  }

  /**
   * `PUT /directory/room/{roomAlias}`: maps a local alias to a room the user is joined to
   * (server admins need not be). 409 M_UNKNOWN if the alias exists already.
   */
  async create(userId: string, alias: string, roomId: string, isAdmin: boolean): Promise<void> {
    if (!this.isLocal(alias))
      throw invalidParam(`Room alias ${alias} must be on ${this.serverName}`);
    if ((await this.graph.roomVersionOf(roomId)) === undefined)
      throw notFound(`Room ${roomId} not found`);
    const membership = await this.db.read((db) => selectMembership(db, roomId, userId));
    if (!isAdmin && membership?.membership !== 'join') {
      throw forbidden('You must be in the room to create an alias for it');
    }
    const inserted = await this.db.transact((trx) => insertAlias(trx, alias, roomId, userId));
    if (!inserted) {
      throw new MatrixError('M_UNKNOWN', `Room alias ${alias} already exists.`, { status: 409 });
    }
  }

  /**
   * `DELETE /directory/room/{roomAlias}`: by the alias's creator, a server admin, or a member
   * allowed to change the room's `m.room.canonical_alias`.
   */
  async delete(userId: string, alias: string, isAdmin: boolean): Promise<void> {
    if (!this.isLocal(alias)) throw notFound(`Room alias ${alias} not found`);
    const row = await this.db.read((db) => selectAlias(db, alias));
    if (row === undefined) throw notFound(`Room alias ${alias} not found`);
    if (
      !isAdmin &&
      row.creator !== userId &&
      !(await canEditRoomAliases(this.graph, row.room_id, userId))
    ) {
      throw forbidden('You may not remove this alias');
    }
    const deleted = await this.db.transact((trx) => deleteAlias(trx, alias));
    if (!deleted) throw notFound(`Room alias ${alias} not found`);
  }

  /** `GET /rooms/{roomId}/aliases`: for members, and anyone if the room is world readable. */
  async list(userId: string, roomId: string): Promise<string[]> {
    if ((await this.graph.roomVersionOf(roomId)) === undefined) {
      throw forbidden('You are not a member of the room');
    }
    const membership = await this.db.read((db) => selectMembership(db, roomId, userId));
    if (
      membership?.membership !== 'join' &&
      (await this.visibility.current(roomId)) !== 'world_readable'
    ) {
      throw forbidden('You are not a member of the room');
    }
    return this.db.read((db) => selectAliasesOfRoom(db, roomId));
  }
}

/**
 * Whether the user is joined and may send `m.room.canonical_alias`: who may remove others'
 * aliases and publish the room in the directory (as Synapse decides both).
 */
export async function canEditRoomAliases(
  graph: RoomGraph,
  roomId: string,
  userId: string,
): Promise<boolean> {
  const version = await graph.roomVersionOf(roomId);
  if (version === undefined) return false;
  const state = new StateView(roomId, version, await graph.currentState(roomId), graph);
  if ((await state.membership(userId)) !== 'join') return false;
  const levels = await state.powerLevels();
  return levels.userLevel(userId) >= levels.eventLevel('m.room.canonical_alias', true);
}
