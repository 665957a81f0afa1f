/**
 * What another server may do with, or read of, a room here: the room's server ACL (a denied
 * server gets 403 M_FORBIDDEN on every room endpoint and its PDUs are dropped), whether it takes
 * part in the room (one of its users joined, per the current state), and which events it may
 * see (as Synapse and the spec's history visibility rules have it for servers: `shared` and
 * `world_readable` events to any server, `invited`/`joined` ones to a server with a user of that
 * membership in the state at the event).
 */

import { forbidden, notFound } from '../../core/errors.js';
import { parseStateKey, stateKeyOf } from '../../protocol/room-event.js';
import type { RoomEvent, StateMap } from '../../protocol/room-event.js';
import type { RoomVersion } from '../../protocol/room-versions.js';
import { serverAclAllows } from '../../protocol/server-acl.js';
import type { RoomGraph } from '../room-graph/room-graph.js';
import { historyVisibilityOf } from '../rooms/history-visibility.js';

const ACL_KEY = stateKeyOf('m.room.server_acl', '');
const HISTORY_VISIBILITY_KEY = stateKeyOf('m.room.history_visibility', '');

export class ServerRoomAccess {
  constructor(private readonly graph: RoomGraph) {}

  /** Whether the room's current server ACL lets `server` in (true for a room without one). */
  async aclAllows(roomId: string, server: string): Promise<boolean> {
    const state = await this.graph.currentState(roomId);
    const aclId = state.get(ACL_KEY);
    if (aclId === undefined) return true;
    const acl = await this.graph.getEvent(aclId);
    return serverAclAllows(acl?.content, server);
  }

  /**
   * The room's version if `origin` may make requests about it: 404 M_NOT_FOUND for a room not
   * known here, 403 M_FORBIDDEN if the ACL denies the server.
   */
  async requireAllowed(roomId: string, origin: string): Promise<RoomVersion> {
    const version = await this.graph.roomVersionOf(roomId);
    if (version === undefined || (await this.graph.forwardExtremities(roomId)).length === 0) {
      throw notFound(`Room ${roomId} is not known here`);
    }
    if (!(await this.aclAllows(roomId, origin))) {
      throw forbidden(`${origin} is denied by the server ACL of the room`);
    }
    return version;
  }

  /**
   * As `requireAllowed`, and the server must have a joined user in the room (or the room be
   * world readable): 403 M_FORBIDDEN otherwise.
   */
  async requireParticipant(roomId: string, origin: string): Promise<RoomVersion> {
    const version = await this.requireAllowed(roomId, origin);
    const state = await this.graph.currentState(roomId);
    if (!(await this.hasMember(state, origin, ['join']))) {
      if ((await this.#visibility(state)) !== 'world_readable') {
        throw forbidden(`${origin} has no user in the room`);
      }
    }
    return version;
  }

  /** Whether a user of `server` has one of `memberships` in `state`. */
  async hasMember(
    state: StateMap,
    server: string,
    memberships: readonly string[],
  ): Promise<boolean> {
    const suffix = `:${server}`;
    const ids: string[] = [];
    for (const [key, id] of state) {
      if (!key.startsWith('["m.room.member",')) continue;
      if (parseStateKey(key).stateKey.endsWith(suffix)) ids.push(id);
    }
    if (ids.length === 0) return false;
    const events = await this.graph.getEvents(ids);
    for (const event of events.values()) {
      const membership = event.content.membership;
      if (typeof membership === 'string' && memberships.includes(membership)) return true;
    }
    return false;
  }

  /**
   * Whether `server` may see `event`, by the history visibility at it: `world_readable` and
   * `shared` to any server; `invited` to one with a user invited or joined then; `joined` to
   * one with a user joined then. An event known without its state (an outlier) is visible to
   * servers with a joined user now.
   */
  async serverMaySee(server: string, event: RoomEvent): Promise<boolean> {
    const placement = (await this.graph.placementsOf([event.eventId])).get(event.eventId);
    if (placement === undefined) {
      return this.hasMember(await this.graph.currentState(event.roomId), server, ['join']);
    }
    const state = placement.stateAfter;
    const visibility = await this.#visibility(state);
    if (visibility === 'world_readable' || visibility === 'shared') return true;
    const memberships = visibility === 'invited' ? ['join', 'invite'] : ['join'];
    return this.hasMember(state, server, memberships);
  }

  async #visibility(state: StateMap) {
    const id = state.get(HISTORY_VISIBILITY_KEY);
    return historyVisibilityOf(
      id === undefined ? undefined : (await this.graph.getEvent(id))?.content,
    );
  }
}
