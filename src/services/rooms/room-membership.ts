/**
 * Membership changes of local users (client-server API "Room membership"): join, invite, leave,
 * kick, ban, unban, knock, forget. Each sends one `m.room.member` event through `RoomEvents`
 * (the auth rules decide who may do what) after checks the rules leave to the server. Also keeps
 * member events in step with profiles and makes deactivated users leave their rooms.
 *
 * Rooms of other servers go through a `RemoteMembershipHandler` (federation's
 * `FederatedMembership`, given with `useFederation`): joining or knocking on a room this server
 * is not in, rejecting an invite to one, inviting a user of another server. Without it (tests of
 * the rooms slice alone) those are refused with an error that says so.
 */

import type { Logger } from 'pino';
import type { JsonObject } from '../../core/canonical-json.js';
import { MatrixError, forbidden, notFound } from '../../core/errors.js';
import {
  isValidRoomAlias,
  isValidUserId,
  parseRoomId,
  parseUserId,
} from '../../core/identifiers.js';
import { insertForgottenRoom } from '../../storage/rooms/forgotten-rooms.js';
import {
  selectMembership,
  selectMembersOfRoom,
  selectRoomsOfUser,
} from '../../storage/rooms/memberships.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import { stateKeyOf } from '../../protocol/room-event.js';
import type { ProfileChange, Profiles } from '../profiles/profiles.js';
import type { RoomGraph } from '../room-graph/room-graph.js';
import type { Users } from '../users/users.js';
import type { RoomAliases } from './room-aliases.js';
import type { EventDraft } from './event-builder.js';
import type { RoomEvents } from './room-events.js';
import { StateView } from './state-view.js';

export const FEDERATION_NOT_SUPPORTED = 'federation with other servers is not supported yet';

export interface JoinOptions {
  readonly reason?: string;
  readonly isGuest?: boolean;
  /** Servers to join a room of other servers through (`via`, `server_name`). */
  readonly servers?: readonly string[];
}

/** How membership reaches rooms of other servers (implemented by federation). */
export interface RemoteMembershipHandler {
  /** Whether a local user is joined to the room (this server then holds its state). */
  isResident(roomId: string): Promise<boolean>;
  /** An alias of another server to its room and the servers to join through. */
  resolveRemoteAlias(alias: string): Promise<{ roomId: string; servers: string[] }>;
  joinRemote(
    userId: string,
    roomId: string,
    servers: readonly string[],
    content: JsonObject,
  ): Promise<void>;
  knockRemote(
    userId: string,
    roomId: string,
    servers: readonly string[],
    content: JsonObject,
  ): Promise<void>;
  /** Rejects an invite (or rescinds a knock) to a room this server is not in. */
  leaveRemote(userId: string, roomId: string, content: JsonObject): Promise<void>;
  inviteRemote(sender: string, roomId: string, target: string, content: JsonObject): Promise<void>;
}

/** Where a join or knock goes: a room this server holds, or one of other servers. */
interface MembershipTarget {
  readonly roomId: string;
  readonly remote: boolean;
  readonly servers: readonly string[];
}

export interface RoomMembershipDeps {
  db: TenantDatabase;
  graph: RoomGraph;
  events: RoomEvents;
  aliases: RoomAliases;
  users: Users;
  profiles: Profiles;
  serverName: string;
  logger: Logger;
}

export class RoomMembership {
  readonly #db: TenantDatabase;
  readonly #graph: RoomGraph;
  readonly #events: RoomEvents;
  readonly #aliases: RoomAliases;
  readonly #users: Users;
  readonly #profiles: Profiles;
  readonly #serverName: string;
  readonly #log: Logger;
  #remote: RemoteMembershipHandler | undefined;

  constructor(deps: RoomMembershipDeps) {
    this.#db = deps.db;
    this.#graph = deps.graph;
    this.#events = deps.events;
    this.#aliases = deps.aliases;
    this.#users = deps.users;
    this.#profiles = deps.profiles;
    this.#serverName = deps.serverName;
    this.#log = deps.logger;
  }

  /** Lets membership reach rooms of other servers (set once federation is built). */
  useFederation(remote: RemoteMembershipHandler): void {
    this.#remote = remote;
  }

  /**
   * A room ID or alias to the ID of a room this server has: 404 M_NOT_FOUND for unknown local
   * aliases and rooms, and for rooms or aliases only other servers could resolve.
   */
  async resolveRoom(roomIdOrAlias: string): Promise<string> {
    if (isValidRoomAlias(roomIdOrAlias)) {
      return (await this.#aliases.resolve(roomIdOrAlias)).room_id;
    }
    const roomId = roomIdOrAlias;
    if ((await this.#graph.roomVersionOf(roomId)) === undefined) {
      const parsed = parseRoomId(roomId);
      const remote = parsed.kind === 'domain' && parsed.serverName !== this.#serverName;
      throw notFound(
        remote || parsed.kind === 'hash'
          ? `Room ${roomId} is not known to this server, and joining it over federation is not possible: ${FEDERATION_NOT_SUPPORTED}`
          : `Room ${roomId} not found`,
      );
    }
    return roomId;
  }

  /** Joins a room (or updates the user's profile in it if already joined); returns the room ID. */
  async join(userId: string, roomIdOrAlias: string, options: JoinOptions = {}): Promise<string> {
    const target = await this.#locate(roomIdOrAlias, options.servers ?? []);
    const roomId = target.roomId;
    const profile = await this.#profileOf(userId);
    if (target.remote) {
      const content = withReason({ ...profile }, options.reason);
      await (this.#remote as RemoteMembershipHandler).joinRemote(
        userId,
        roomId,
        target.servers,
        content,
      );
      return roomId;
    }
    await this.#events.send(roomId, async (state) => {
      const current = await state.event('m.room.member', userId);
      const content: JsonObject = { membership: 'join', ...profile };
      if (options.reason !== undefined) content.reason = options.reason;
      if (
        current?.content.membership === 'join' &&
        options.reason === undefined &&
        current.content.displayname === content.displayname &&
        current.content.avatar_url === content.avatar_url
      ) {
        return { existingEventId: current.eventId };
      }
      if (
        options.isGuest === true &&
        (await state.stringField('m.room.guest_access', 'guest_access')) !== 'can_join'
      ) {
        throw forbidden('Guest access is not allowed in this room');
      }
      const authoriser = await this.#restrictedJoinAuthoriser(
        state,
        userId,
        current?.content.membership,
      );
      if (authoriser !== undefined) content.join_authorised_via_users_server = authoriser;
      return memberDraft(userId, userId, content);
    });
    return roomId;
  }

  /** Invites a local user; users of other servers need federation (403). */
  async invite(
    sender: string,
    roomId: string,
    target: string,
    options: { reason?: string; isDirect?: boolean } = {},
  ): Promise<void> {
    await this.#requireKnownRoom(roomId, 'You are not in this room');
    if (this.#remote !== undefined && isValidUserId(target) && !this.#users.isLocal(target)) {
      const content: JsonObject = withReason({ membership: 'invite' }, options.reason);
      if (options.isDirect === true) content.is_direct = true;
      await this.#remote.inviteRemote(sender, roomId, target, content);
      return;
    }
    await this.#requireLocalInvitee(target);
    const profile = await this.#profileOf(target);
    await this.#events.send(roomId, async () => {
      const content: JsonObject = { membership: 'invite', ...profile };
      if (options.reason !== undefined) content.reason = options.reason;
      if (options.isDirect === true) content.is_direct = true;
      return memberDraft(sender, target, content);
    });
  }

  /** Whether users of other servers can be invited (federation is there). */
  canInviteRemote(): boolean {
    return this.#remote !== undefined;
  }

  /**
   * Invites users of other servers into a room just created (`createRoom`'s `invite`): one
   * failing (its server unreachable or refusing) is logged, the room stays created.
   */
  async inviteRemoteAfterCreation(
    sender: string,
    roomId: string,
    targets: readonly string[],
    options: { isDirect?: boolean } = {},
  ): Promise<void> {
    for (const target of targets) {
      try {
        await this.invite(sender, roomId, target, options);
      } catch (error) {
        this.#log.warn({ err: error, room_id: roomId, invitee: target }, 'remote invite failed');
      }
    }
  }

  /** Leaves a room, rejects an invite or rescinds a knock; nothing happens if already left. */
  async leave(userId: string, roomId: string, reason?: string): Promise<void> {
    await this.#events.requireRoomVersion(roomId);
    if (this.#remote !== undefined && (await this.#isRemoteRoom(roomId))) {
      // Known only through an invite or a knock: the leave goes through a resident server.
      const row = await this.#db.read((db) => selectMembership(db, roomId, userId));
      if (row?.membership === 'invite' || row?.membership === 'knock') {
        await this.#remote.leaveRemote(userId, roomId, withReason({}, reason));
        return;
      }
      if (row === undefined) throw forbidden('You are not a member of this room');
      if (row.membership !== 'join') return;
    }
    await this.#events.send(roomId, async (state) => {
      const current = await state.event('m.room.member', userId);
      if (current === undefined) throw forbidden('You are not a member of this room');
      if (current.content.membership === 'leave') return { existingEventId: current.eventId };
      return memberDraft(userId, userId, withReason({ membership: 'leave' }, reason));
    });
  }

  async kick(sender: string, roomId: string, target: string, reason?: string): Promise<void> {
    await this.#requireKnownRoom(roomId, 'You are not in this room');
    await this.#events.send(roomId, async (state) => {
      const membership = await state.membership(target);
      if (membership !== 'join' && membership !== 'invite' && membership !== 'knock') {
        throw forbidden(`${target} is not in the room`);
      }
      return memberDraft(sender, target, withReason({ membership: 'leave' }, reason));
    });
  }

  async ban(sender: string, roomId: string, target: string, reason?: string): Promise<void> {
    await this.#requireKnownRoom(roomId, 'You are not in this room');
    await this.#events.send(
      roomId,
      memberDraft(sender, target, withReason({ membership: 'ban' }, reason)),
    );
  }

  async unban(sender: string, roomId: string, target: string, reason?: string): Promise<void> {
    await this.#requireKnownRoom(roomId, 'You are not in this room');
    await this.#events.send(roomId, async (state) => {
      if ((await state.membership(target)) !== 'ban') throw forbidden(`${target} is not banned`);
      return memberDraft(sender, target, withReason({ membership: 'leave' }, reason));
    });
  }

  /** Knocks on a room (room versions 7 and later); returns the room ID. */
  async knock(
    userId: string,
    roomIdOrAlias: string,
    reason?: string,
    servers: readonly string[] = [],
  ): Promise<string> {
    const target = await this.#locate(roomIdOrAlias, servers);
    const roomId = target.roomId;
    const profile = await this.#profileOf(userId);
    if (target.remote) {
      await (this.#remote as RemoteMembershipHandler).knockRemote(
        userId,
        roomId,
        target.servers,
        withReason({ ...profile }, reason),
      );
      return roomId;
    }
    await this.#events.send(roomId, async (state) => {
      if (!state.version.knockJoinRule) {
        throw forbidden(`Room version ${state.version.id} does not support knocking`);
      }
      return memberDraft(userId, userId, withReason({ membership: 'knock', ...profile }, reason));
    });
    return roomId;
  }

  /**
   * Forgets a room the user is not joined to (400 M_UNKNOWN while joined): its history is no
   * longer served to them. A room they never were in is forgotten already: nothing to do.
   */
  async forget(userId: string, roomId: string): Promise<void> {
    await this.#db.transact(async (trx) => {
      const row = await selectMembership(trx, roomId, userId);
      if (row === undefined) return;
      if (row.membership === 'join') {
        throw new MatrixError('M_UNKNOWN', 'You must leave the room before forgetting it', {
          status: 400,
        });
      }
      await insertForgottenRoom(trx, userId, roomId);
    });
  }

  /** Room IDs the user is joined to. */
  async joinedRooms(userId: string): Promise<string[]> {
    const rows = await this.#db.read((db) => selectRoomsOfUser(db, userId, ['join']));
    return rows.map((row) => row.room_id);
  }

  /** `Profiles.changed`: new member events in every room the user is joined to. */
  async onProfileChanged(change: ProfileChange): Promise<void> {
    for (const roomId of await this.joinedRooms(change.userId)) {
      try {
        await this.#events.send(roomId, async (state) => {
          const current = await state.event('m.room.member', change.userId);
          // Left since the list was read: nothing to update (the result is not used).
          if (current === undefined || current.content.membership !== 'join') {
            return { existingEventId: current?.eventId ?? '' };
          }
          const {
            reason: _reason,
            join_authorised_via_users_server: _authoriser,
            ...content
          } = current.content;
          if (change.value === null) delete content[change.field];
          else content[change.field] = change.value;
          if (current.content[change.field] === content[change.field]) {
            return { existingEventId: current.eventId };
          }
          return memberDraft(change.userId, change.userId, content);
        });
      } catch (error) {
        this.#log.warn(
          { err: error, room_id: roomId },
          'could not update a member event after a profile change',
        );
      }
    }
  }

  /** `Users.deactivated`: the user leaves every room they are in, invited to or knocking on. */
  async onUserDeactivated(userId: string): Promise<void> {
    const rows = await this.#db.read((db) =>
      selectRoomsOfUser(db, userId, ['join', 'invite', 'knock']),
    );
    for (const row of rows) {
      try {
        await this.leave(userId, row.room_id);
      } catch (error) {
        this.#log.warn(
          { err: error, room_id: row.room_id },
          'a deactivated user could not leave a room',
        );
      }
    }
  }

  /**
   * Guests leave a room whose `m.room.guest_access` stops being `can_join` (spec: "Guest
   * access", the server MUST set those users' membership to `leave`). Called after any change of
   * that state event; does nothing while guests may still join.
   */
  async onGuestAccessChanged(roomId: string): Promise<void> {
    const version = await this.#graph.roomVersionOf(roomId);
    if (version === undefined) return;
    const state = new StateView(
      roomId,
      version,
      await this.#graph.currentState(roomId),
      this.#graph,
    );
    if ((await state.stringField('m.room.guest_access', 'guest_access')) === 'can_join') return;
    const members = await this.#db.read((db) => selectMembersOfRoom(db, roomId, ['join']));
    for (const { user_id: userId } of members) {
      if (parseUserId(userId).serverName !== this.#serverName) continue;
      if ((await this.#users.get(userId))?.isGuest !== true) continue;
      try {
        await this.leave(userId, roomId);
      } catch (error) {
        this.#log.warn(
          { err: error, room_id: roomId },
          'a guest could not be made to leave a room',
        );
      }
    }
  }

  /**
   * Where a join or knock goes: local aliases and rooms this server holds stay here; aliases of
   * other servers are resolved through them, and rooms this server is not in go to federation
   * with the servers to try (those given, then those the alias's server named).
   */
  async #locate(roomIdOrAlias: string, servers: readonly string[]): Promise<MembershipTarget> {
    const remote = this.#remote;
    if (remote === undefined) {
      return { roomId: await this.resolveRoom(roomIdOrAlias), remote: false, servers: [] };
    }
    let roomId = roomIdOrAlias;
    let via = [...servers];
    if (isValidRoomAlias(roomIdOrAlias)) {
      if (this.#aliases.isLocal(roomIdOrAlias)) {
        roomId = (await this.#aliases.resolve(roomIdOrAlias)).room_id;
      } else {
        const resolved = await remote.resolveRemoteAlias(roomIdOrAlias);
        roomId = resolved.roomId;
        via = [...via, ...resolved.servers];
      }
    }
    if (!(await this.#isRemoteRoom(roomId))) {
      return { roomId: await this.resolveRoom(roomId), remote: false, servers: [] };
    }
    return { roomId, remote: true, servers: [...new Set(via)] };
  }

  /**
   * Whether the room is one of other servers this server is not in: unknown, known only
   * through an invite or knock, or left by every local user (and not created here).
   */
  async #isRemoteRoom(roomId: string): Promise<boolean> {
    if (this.#remote === undefined) return false;
    if ((await this.#graph.roomVersionOf(roomId)) === undefined) return true;
    if (await this.#remote.isResident(roomId)) return false;
    if ((await this.#graph.forwardExtremities(roomId)).length === 0) return true;
    const create = await this.#graph.getEvent(
      (await this.#graph.currentState(roomId)).get(stateKeyOf('m.room.create', '')) ?? '',
    );
    return create === undefined || !this.#users.isLocal(create.sender);
  }

  async #requireKnownRoom(roomId: string, message: string): Promise<void> {
    if ((await this.#graph.roomVersionOf(roomId)) === undefined) {
      throw forbidden(message);
    }
  }

  async #requireLocalInvitee(target: string): Promise<void> {
    if (!isValidUserId(target) || parseUserId(target).serverName !== this.#serverName) {
      throw forbidden(
        `Cannot invite ${target}: inviting users of other servers needs federation, which is not supported yet`,
      );
    }
    const user = await this.#users.get(target);
    if (user === undefined || user.deactivated) throw notFound(`User ${target} not found`);
  }

  async #profileOf(userId: string): Promise<JsonObject> {
    const profile = await this.#profiles.get(userId).catch(() => ({}) as Record<string, string>);
    const result: JsonObject = {};
    if (profile.displayname !== undefined) result.displayname = profile.displayname;
    if (profile.avatar_url !== undefined) result.avatar_url = profile.avatar_url;
    return result;
  }

  /**
   * For a join to a `restricted` (v8+) or `knock_restricted` (v10+) room without an invite: a
   * local member who may invite, vouching for the join, if the user is joined to one of the
   * rooms the join rules allow. Undefined when the join needs no authoriser.
   */
  async #restrictedJoinAuthoriser(
    state: StateView,
    userId: string,
    membership: unknown,
  ): Promise<string | undefined> {
    const { version } = state;
    const joinRules = await state.content('m.room.join_rules');
    const rule = joinRules?.join_rule;
    const restricted =
      (rule === 'restricted' && version.restrictedJoinRule) ||
      (rule === 'knock_restricted' && version.knockRestrictedJoinRule);
    if (!restricted || membership === 'join' || membership === 'invite') return undefined;
    const allow = Array.isArray(joinRules?.allow) ? joinRules.allow : [];
    let allowed = false;
    for (const condition of allow) {
      if (typeof condition !== 'object' || condition === null || Array.isArray(condition)) continue;
      if (condition.type !== 'm.room_membership' || typeof condition.room_id !== 'string') continue;
      const roomId = condition.room_id;
      const row = await this.#db.read((db) => selectMembership(db, roomId, userId));
      if (row?.membership === 'join') {
        allowed = true;
        break;
      }
    }
    if (!allowed) {
      throw forbidden(
        'You need an invite, or to be in one of the rooms that give access to this room',
      );
    }
    const levels = await state.powerLevels();
    const inviteLevel = levels.named('invite');
    const members = await this.#db.read((db) => selectMembersOfRoom(db, state.roomId, ['join']));
    for (const member of members) {
      if (!this.#users.isLocal(member.user_id)) continue;
      if ((await state.membership(member.user_id)) !== 'join') continue;
      if (levels.userLevel(member.user_id) >= inviteLevel) return member.user_id;
    }
    throw forbidden('No member of this server can authorise joining this restricted room');
  }
}

function memberDraft(sender: string, target: string, content: JsonObject): EventDraft {
  return { type: 'm.room.member', stateKey: target, sender, content };
}

function withReason(content: JsonObject, reason: string | undefined): JsonObject {
  return reason === undefined ? content : { ...content, reason };
}
