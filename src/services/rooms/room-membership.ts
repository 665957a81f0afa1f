/**
 * Membership changes of local users (client-server API "Room membership"): join, invite, leave,
 * kick, ban, unban, knock, forget. Each sends one `m.room.member` event through `RoomEvents`
 * (the auth rules decide who may do what) after checks the rules leave to the server. Also keeps
 * member events in step with profiles and makes deactivated users leave their rooms.
 *
 * Federation comes later: a room this server does not have, an alias of another server, or
 * inviting a user of another server is refused with an error that says so.
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
    const roomId = await this.resolveRoom(roomIdOrAlias);
    const profile = await this.#profileOf(userId);
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
    await this.#requireLocalInvitee(target);
    await this.#requireKnownRoom(roomId, 'You are not in this room');
    const profile = await this.#profileOf(target);
    await this.#events.send(roomId, async () => {
      const content: JsonObject = { membership: 'invite', ...profile };
      if (options.reason !== undefined) content.reason = options.reason;
      if (options.isDirect === true) content.is_direct = true;
      return memberDraft(sender, target, content);
    });
  }

  /** Leaves a room, rejects an invite or rescinds a knock; nothing happens if already left. */
  async leave(userId: string, roomId: string, reason?: string): Promise<void> {
    await this.#events.requireRoomVersion(roomId);
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
  async knock(userId: string, roomIdOrAlias: string, reason?: string): Promise<string> {
    const roomId = await this.resolveRoom(roomIdOrAlias);
    const profile = await this.#profileOf(userId);
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
