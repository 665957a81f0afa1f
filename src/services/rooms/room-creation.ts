/**
 * `POST /createRoom`: the events of a new room in the order the spec gives — create, the
 * creator's join, power levels, canonical alias, the preset's join rules / history visibility /
 * guest access, `initial_state`, name and topic, invites.
 *
 * All events are built and checked against the auth rules in memory before the first one is
 * stored: a request whose events the rules refuse gets 400 M_INVALID_ROOM_STATE and leaves
 * nothing behind. The alias and the directory listing are written in the transaction of the
 * create event. (Each event is then stored in its own transaction; a database failure part-way
 * would leave a partly created room, which its creator can still leave.)
 */

import type { JsonObject } from '../../core/canonical-json.js';
import { MatrixError, forbidden, invalidParam } from '../../core/errors.js';
import { isValidRoomAlias, isValidUserId, parseUserId } from '../../core/identifiers.js';
import { authEventKeysFor } from '../../protocol/auth/auth-events-selection.js';
import { authorizeEvent } from '../../protocol/auth/authorize-event.js';
import { stateKeyOf } from '../../protocol/room-event.js';
import type { RoomEvent, StateKey } from '../../protocol/room-event.js';
import { DEFAULT_ROOM_VERSION, requireRoomVersion } from '../../protocol/room-versions.js';
import type { RoomVersion } from '../../protocol/room-versions.js';
import { insertAlias } from '../../storage/rooms/aliases.js';
import { upsertDirectoryVisibility } from '../../storage/rooms/directory.js';
import type { Profiles } from '../profiles/profiles.js';
import type { RoomGraph } from '../room-graph/room-graph.js';
import type { Users } from '../users/users.js';
import type { EventDraft } from './event-builder.js';
import { generateRoomId } from './event-builder.js';
import type { RoomAliases } from './room-aliases.js';
import type { RoomEvents } from './room-events.js';
import type { RoomMembership } from './room-membership.js';

export type RoomPreset = 'private_chat' | 'public_chat' | 'trusted_private_chat';

export interface InitialStateEvent {
  readonly type: string;
  readonly state_key?: string;
  readonly content: JsonObject;
}

/** The body of `POST /createRoom`, validated. */
export interface CreateRoomRequest {
  readonly visibility?: 'public' | 'private';
  readonly room_alias_name?: string;
  readonly name?: string;
  readonly topic?: string;
  readonly invite?: readonly string[];
  readonly invite_3pid?: readonly unknown[];
  readonly room_version?: string;
  readonly creation_content?: JsonObject;
  readonly initial_state?: readonly InitialStateEvent[];
  readonly preset?: RoomPreset;
  readonly is_direct?: boolean;
  readonly power_level_content_override?: JsonObject;
}

const PRESETS: Readonly<
  Record<RoomPreset, { joinRule: string; historyVisibility: string; guestAccess: string }>
> = {
  private_chat: { joinRule: 'invite', historyVisibility: 'shared', guestAccess: 'can_join' },
  trusted_private_chat: {
    joinRule: 'invite',
    historyVisibility: 'shared',
    guestAccess: 'can_join',
  },
  public_chat: { joinRule: 'public', historyVisibility: 'shared', guestAccess: 'forbidden' },
};

const POWER_LEVELS_KEY = stateKeyOf('m.room.power_levels', '');
const ALIAS_LOCALPART_FORBIDDEN = /[\s:#]/;
const MAX_ID_ATTEMPTS = 16;

export interface RoomCreationDeps {
  graph: RoomGraph;
  events: RoomEvents;
  aliases: RoomAliases;
  users: Users;
  profiles: Profiles;
  serverName: string;
  /** Invites users of other servers once the room exists (over federation). */
  membership?: Pick<RoomMembership, 'canInviteRemote' | 'inviteRemoteAfterCreation'>;
}

export class RoomCreation {
  constructor(private readonly deps: RoomCreationDeps) {}

  /** Creates the room and returns its ID. */
  async create(creator: string, request: CreateRoomRequest): Promise<string> {
    const { serverName } = this.deps;
    const version = requireRoomVersion(request.room_version ?? DEFAULT_ROOM_VERSION);
    const preset =
      request.preset ?? (request.visibility === 'public' ? 'public_chat' : 'private_chat');

    let alias: string | undefined;
    if (request.room_alias_name !== undefined) {
      const localpart = request.room_alias_name;
      alias = `#${localpart}:${serverName}`;
      if (
        localpart === '' ||
        ALIAS_LOCALPART_FORBIDDEN.test(localpart) ||
        !isValidRoomAlias(alias)
      ) {
        throw invalidParam('room_alias_name is not a valid alias localpart');
      }
      if ((await this.deps.aliases.lookup(alias)) !== undefined) {
        throw new MatrixError('M_ROOM_IN_USE', `Room alias ${alias} is already in use`);
      }
    }
    if ((request.invite_3pid ?? []).length > 0) {
      throw forbidden('Inviting by third-party identifier is not supported by this server');
    }
    const invitees = [...new Set(request.invite ?? [])].filter((userId) => userId !== creator);
    for (const invitee of invitees) await this.#checkInvitee(invitee);

    const drafts = await this.#drafts(creator, version, preset, alias, invitees, request);
    const remoteInvitees = invitees.filter((userId) => !this.#isLocalUser(userId));
    // A v12 room ID is the hash of its create event: the same user creating two identical
    // rooms within a millisecond would get the same ID. The next millisecond then.
    for (let attempt = 0; attempt < MAX_ID_ATTEMPTS; attempt++) {
      const events = this.#buildAll(drafts, version, attempt);
      const roomId = (events[0] as RoomEvent).roomId;
      if (
        await this.#store(roomId, version, events, alias, request.visibility === 'public', creator)
      ) {
        // Users of other servers are invited once the room exists: their server co-signs.
        if (remoteInvitees.length > 0) {
          await this.deps.membership?.inviteRemoteAfterCreation(creator, roomId, remoteInvitees, {
            isDirect: request.is_direct === true,
          });
        }
        return roomId;
      }
    }
    throw new Error(`no free room ID after ${MAX_ID_ATTEMPTS} attempts`);
  }

  /**
   * Stores the built events of a new room; false (and nothing stored) if the room ID is taken.
   * The alias and the directory listing are written with the create event.
   */
  async #store(
    roomId: string,
    version: RoomVersion,
    events: readonly RoomEvent[],
    alias: string | undefined,
    publish: boolean,
    creator: string,
  ): Promise<boolean> {
    const { graph } = this.deps;
    const create = events[0] as RoomEvent;
    return this.deps.events.withRoomLock(roomId, async (_persist, persistNewRoom) => {
      const taken = version.roomIdFromCreateEvent
        ? (await graph.eventStatuses([create.eventId])).size > 0
        : (await graph.roomVersionOf(roomId)) !== undefined;
      if (taken) return false;
      // One transaction: a failure part-way leaves no trace of the room.
      await persistNewRoom(version, events, async (trx, _position, event) => {
        if (event !== create) return;
        if (alias !== undefined && !(await insertAlias(trx, alias, roomId, creator))) {
          throw new MatrixError('M_ROOM_IN_USE', `Room alias ${alias} is already in use`);
        }
        if (publish) await upsertDirectoryVisibility(trx, roomId, 'public');
      });
      return true;
    });
  }

  #isLocalUser(userId: string): boolean {
    return parseUserId(userId).serverName === this.deps.serverName;
  }

  async #checkInvitee(userId: string): Promise<void> {
    if (!isValidUserId(userId)) throw invalidParam(`${userId} is not a valid user ID`);
    if (parseUserId(userId).serverName !== this.deps.serverName) {
      if (this.deps.membership?.canInviteRemote() === true) return;
      throw forbidden(
        `Cannot invite ${userId}: inviting users of other servers needs federation, which is not supported yet`,
      );
    }
    const user = await this.deps.users.get(userId);
    if (user === undefined || user.deactivated) throw invalidParam(`Unknown user ${userId}`);
  }

  /** The room's first events, in the spec's order. */
  async #drafts(
    creator: string,
    version: RoomVersion,
    preset: RoomPreset,
    alias: string | undefined,
    invitees: readonly string[],
    request: CreateRoomRequest,
  ): Promise<EventDraft[]> {
    const state = (type: string, content: JsonObject, stateKey = ''): EventDraft => ({
      type,
      stateKey,
      sender: creator,
      content,
    });
    const initialState = request.initial_state ?? [];
    const initialKeys = new Set(initialState.map((e) => stateKeyOf(e.type, e.state_key ?? '')));

    // 1. The create event: creation_content, with `creator` and `room_version` set by us.
    const {
      creator: _creator,
      room_version: _version,
      ...creation
    } = request.creation_content ?? {};
    const createContent: JsonObject = { ...creation, room_version: version.id };
    if (!version.implicitRoomCreator) createContent.creator = creator;
    if (version.privilegedCreators) {
      const given = creation.additional_creators;
      if (given !== undefined && !Array.isArray(given)) {
        createContent.additional_creators = given; // the auth rules refuse it: M_INVALID_ROOM_STATE
      } else {
        const additional = new Set<string>(
          (given ?? []).filter((user): user is string => typeof user === 'string'),
        );
        if (preset === 'trusted_private_chat')
          for (const invitee of invitees) additional.add(invitee);
        additional.delete(creator);
        if (additional.size > 0 || given !== undefined)
          createContent.additional_creators = [...additional];
      }
    }
    const drafts: EventDraft[] = [state('m.room.create', createContent)];

    // 2. The creator joins.
    drafts.push(
      state('m.room.member', { membership: 'join', ...(await this.#profile(creator)) }, creator),
    );

    // 3. Power levels: initial_state's if given, else the defaults; then the override.
    const initialLevels = initialState.find(
      (e) => stateKeyOf(e.type, e.state_key ?? '') === POWER_LEVELS_KEY,
    );
    const levels: JsonObject = {
      ...(initialLevels?.content ?? defaultPowerLevels(creator, version, preset, invitees)),
      ...(request.power_level_content_override ?? {}),
    };
    drafts.push(state('m.room.power_levels', levels));

    // 4. The canonical alias.
    if (alias !== undefined) drafts.push(state('m.room.canonical_alias', { alias }));

    // 5. The preset's events, unless initial_state sets them.
    const settings = PRESETS[preset];
    const presetEvents: Array<[string, JsonObject]> = [
      ['m.room.join_rules', { join_rule: settings.joinRule }],
      ['m.room.history_visibility', { history_visibility: settings.historyVisibility }],
      ['m.room.guest_access', { guest_access: settings.guestAccess }],
    ];
    for (const [type, content] of presetEvents) {
      if (!initialKeys.has(stateKeyOf(type, ''))) drafts.push(state(type, content));
    }

    // 6. initial_state, in order (its power levels were sent at step 3).
    for (const event of initialState) {
      const key = stateKeyOf(event.type, event.state_key ?? '');
      if (key !== POWER_LEVELS_KEY)
        drafts.push(state(event.type, event.content, event.state_key ?? ''));
    }

    // 7. Name and topic.
    if (request.name !== undefined) drafts.push(state('m.room.name', { name: request.name }));
    if (request.topic !== undefined) {
      drafts.push(
        state('m.room.topic', {
          topic: request.topic,
          'm.topic': { 'm.text': [{ body: request.topic, mimetype: 'text/plain' }] },
        }),
      );
    }

    // 8. Invites (of this server's users: the others' come after, over federation).
    for (const invitee of invitees.filter((userId) => this.#isLocalUser(userId))) {
      const content: JsonObject = { membership: 'invite', ...(await this.#profile(invitee)) };
      if (request.is_direct === true) content.is_direct = true;
      drafts.push(state('m.room.member', content, invitee));
    }
    return drafts;
  }

  /**
   * Builds every event, each after the previous one, and checks it against the auth rules with
   * the state the events before it make: nothing is stored unless all of them pass.
   */
  #buildAll(drafts: readonly EventDraft[], version: RoomVersion, tsOffset: number): RoomEvent[] {
    const state = new Map<StateKey, RoomEvent>();
    const events: RoomEvent[] = [];
    let roomId = version.roomIdFromCreateEvent ? undefined : generateRoomId(this.deps.serverName);
    for (const draft of drafts) {
      const authEvents = authEventKeysFor({ ...draft, stateKey: draft.stateKey }, version)
        .map((key) => state.get(key))
        .filter((event) => event !== undefined);
      const previous = events.at(-1);
      const event = this.deps.events.build(
        draft,
        version,
        roomId,
        previous === undefined ? [] : [previous],
        authEvents,
        tsOffset,
      );
      roomId = event.roomId;
      const result = authorizeEvent(event, state, version);
      if (!result.allowed) {
        const what = draft.stateKey === '' ? draft.type : `${draft.type} for ${draft.stateKey}`;
        throw new MatrixError(
          'M_INVALID_ROOM_STATE',
          `The initial state is invalid: ${what}: ${result.reason}`,
        );
      }
      events.push(event);
      if (event.stateKey !== undefined) state.set(stateKeyOf(event.type, event.stateKey), event);
    }
    return events;
  }

  async #profile(userId: string): Promise<JsonObject> {
    const profile = await this.deps.profiles
      .get(userId)
      .catch(() => ({}) as Record<string, string>);
    const result: JsonObject = {};
    if (profile.displayname !== undefined) result.displayname = profile.displayname;
    if (profile.avatar_url !== undefined) result.avatar_url = profile.avatar_url;
    return result;
  }
}

/**
 * Synapse's defaults: the creator at 100 (v1–11; v12 creators are above any level and may not
 * be listed), invitees of `trusted_private_chat` too; anyone may invite in private rooms.
 */
function defaultPowerLevels(
  creator: string,
  version: RoomVersion,
  preset: RoomPreset,
  invitees: readonly string[],
): JsonObject {
  const users: JsonObject = {};
  if (!version.privilegedCreators) {
    users[creator] = 100;
    if (preset === 'trusted_private_chat') for (const invitee of invitees) users[invitee] = 100;
  }
  return {
    users,
    users_default: 0,
    events: {
      'm.room.name': 50,
      'm.room.power_levels': 100,
      'm.room.history_visibility': 100,
      'm.room.canonical_alias': 50,
      'm.room.avatar': 50,
      // v12: "MUST explicitly be higher than state_default" and above what a v11 admin had.
      'm.room.tombstone': version.privilegedCreators ? 150 : 100,
      'm.room.server_acl': 100,
      'm.room.encryption': 100,
    },
    events_default: 0,
    state_default: 50,
    ban: 50,
    kick: 50,
    redact: 50,
    invite: preset === 'public_chat' ? 50 : 0,
  };
}
