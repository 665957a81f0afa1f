/**
 * `POST /rooms/{roomId}/upgrade` (client-server API "Room Upgrades"): replaces a room with a new
 * room of another version, as the spec's server behaviour says and, where it leaves the details
 * open, as Synapse does.
 *
 * 1. Everything that can be checked is checked before the first write: the version (400
 *    M_UNSUPPORTED_ROOM_VERSION), the room (404), the caller's power to send `m.room.tombstone`
 *    (403), `additional_creators` (400); the new room's events pass the auth rules in memory
 *    before any is stored (`RoomCreation`).
 * 2. The new room is created with `predecessor` (and the old `type` and `m.federate: false`) in
 *    its create event, and the old room's transferable state in its initial state: join rules,
 *    name, topic, history visibility, guest access, avatar, encryption, server ACLs, power
 *    levels (see `upgrade-power-levels.ts`), the canonical alias's local aliases, the bans, and
 *    a space's children.
 * 3. The tombstone is sent into the old room; the local aliases and the directory listing move
 *    to the new room in its transaction.
 * 4. Then, best effort (a failure is logged; the upgrade has happened): the new room's final
 *    power levels when the upgrader was raised to copy the state, the old room's canonical alias
 *    without the moved aliases, and the old room's levels raised so that ordinary members can no
 *    longer talk or invite.
 */

import type { Logger } from 'pino';
import type { JsonObject, JsonValue } from '../../core/canonical-json.js';
import { MatrixError, forbidden, invalidParam, notFound } from '../../core/errors.js';
import { isValidRoomAlias, isValidUserId, parseRoomAlias } from '../../core/identifiers.js';
import type { RoomEvent } from '../../protocol/room-event.js';
import { requireRoomVersion } from '../../protocol/room-versions.js';
import type { RoomVersion } from '../../protocol/room-versions.js';
import { selectMembersOfRoom } from '../../storage/rooms/memberships.js';
import { moveDirectoryListing, moveRoomAliases } from '../../storage/rooms/room-upgrades.js';
import { selectLastEventAtOrBefore } from '../../storage/rooms/timeline.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import type { RoomGraph } from '../room-graph/room-graph.js';
import type { EventDraft } from './event-builder.js';
import type { CreateRoomRequest, InitialStateEvent, RoomCreation } from './room-creation.js';
import type { RoomEvents } from './room-events.js';
import { StateView } from './state-view.js';
import {
  normalizePowerLevels,
  restrictedPowerLevels,
  upgradedPowerLevels,
  userLevelIn,
} from './upgrade-power-levels.js';

/** The state carried over as it is (Synapse's list; the spec's recommended list). */
const TRANSFERABLE_STATE = [
  'm.room.join_rules',
  'm.room.name',
  'm.room.topic',
  'm.room.history_visibility',
  'm.room.guest_access',
  'm.room.avatar',
  'm.room.encryption',
  'm.room.server_acl',
] as const;

const TOMBSTONE_BODY = 'This room has been replaced';

export interface UpgradeRequest {
  readonly newVersion: string;
  /** The new room's `additional_creators` (v12+ only; ignored for older versions). */
  readonly additionalCreators?: readonly string[];
}

export interface RoomUpgradeDeps {
  db: TenantDatabase;
  graph: RoomGraph;
  events: RoomEvents;
  creation: RoomCreation;
  serverName: string;
  logger: Logger;
}

/** What the old room's state says the new room starts with. */
interface UpgradePlan {
  readonly createRequest: CreateRoomRequest;
  /** Power levels to send once the room is created (the upgrader was raised to copy state). */
  readonly finalPowerLevels?: JsonObject;
  /** The old room's canonical alias content without the moved aliases, if it changes. */
  readonly oldCanonicalAlias?: JsonObject;
  /** The old room's power levels with sending and inviting restricted, if they change. */
  readonly oldRestrictedLevels?: JsonObject;
}

export class RoomUpgrade {
  /** Upgrades running in this tenant, by old room ID. */
  readonly #running = new Map<string, { userId: string; newRoomId: Promise<string> }>();

  constructor(private readonly deps: RoomUpgradeDeps) {}

  /**
   * Upgrades the room and returns the new room's ID. The same user asking again while it runs
   * gets the same answer; another user gets 400 (as Synapse does).
   */
  async upgrade(userId: string, oldRoomId: string, request: UpgradeRequest): Promise<string> {
    const newVersion = requireRoomVersion(request.newVersion);
    const additionalCreators = [...new Set(request.additionalCreators ?? [])];
    for (const creator of additionalCreators) {
      if (!isValidUserId(creator)) {
        throw invalidParam(`additional_creators: ${creator} is not a valid user ID`);
      }
    }
    const running = this.#running.get(oldRoomId);
    if (running !== undefined) {
      if (running.userId === userId) return running.newRoomId;
      throw new MatrixError('M_UNKNOWN', 'An upgrade for this room is currently in progress', {
        status: 400,
      });
    }
    const newRoomId = this.#upgrade(userId, oldRoomId, newVersion, additionalCreators);
    this.#running.set(oldRoomId, { userId, newRoomId });
    try {
      return await newRoomId;
    } finally {
      this.#running.delete(oldRoomId);
    }
  }

  async #upgrade(
    userId: string,
    oldRoomId: string,
    newVersion: RoomVersion,
    additionalCreators: readonly string[],
  ): Promise<string> {
    const { graph, events } = this.deps;
    const oldVersion = await graph.roomVersionOf(oldRoomId);
    if (oldVersion === undefined) throw notFound(`Room ${oldRoomId} not found`);
    const state = new StateView(oldRoomId, oldVersion, await graph.currentState(oldRoomId), graph);
    if ((await state.membership(userId)) !== 'join') {
      throw forbidden('You are not in this room');
    }
    const levels = await state.powerLevels();
    const needed = levels.eventLevel('m.room.tombstone', true);
    if (levels.userLevel(userId) < needed) {
      throw forbidden(
        `Upgrading this room needs the power to send m.room.tombstone (level ${needed}), and you have ${levels.userLevel(userId)}`,
      );
    }

    const plan = await this.#plan(userId, state, newVersion, additionalCreators);
    const newRoomId = await this.deps.creation.create(userId, plan.createRequest);

    await events.send(
      oldRoomId,
      stateDraft(userId, 'm.room.tombstone', {
        body: TOMBSTONE_BODY,
        replacement_room: newRoomId,
      }),
      {
        withinTransaction: async (trx) => {
          await moveRoomAliases(trx, oldRoomId, newRoomId);
          await moveDirectoryListing(trx, oldRoomId, newRoomId);
        },
      },
    );

    const followUps: Array<[string, string, string, JsonObject | undefined]> = [
      [
        'set the power levels of the new room',
        newRoomId,
        'm.room.power_levels',
        plan.finalPowerLevels,
      ],
      [
        'update the canonical alias of the old room',
        oldRoomId,
        'm.room.canonical_alias',
        plan.oldCanonicalAlias,
      ],
      [
        'restrict the power levels of the old room',
        oldRoomId,
        'm.room.power_levels',
        plan.oldRestrictedLevels,
      ],
    ];
    for (const [what, roomId, type, content] of followUps) {
      if (content === undefined) continue;
      try {
        await events.send(roomId, stateDraft(userId, type, content));
      } catch (error) {
        this.deps.logger.warn({ err: error, room_id: roomId }, `room upgrade: could not ${what}`);
      }
    }
    return newRoomId;
  }

  /** The new room's creation request and the follow-up changes, from the old room's state. */
  async #plan(
    userId: string,
    state: StateView,
    newVersion: RoomVersion,
    additionalCreators: readonly string[],
  ): Promise<UpgradePlan> {
    const oldVersion = state.version;
    const create = await state.event('m.room.create');
    if (create === undefined) throw new Error(`room ${state.roomId} has no create event`);

    // The create event: predecessor, and what Synapse carries over.
    const predecessor: JsonObject = { room_id: state.roomId };
    // "The event ID of the last known event in the old room": deprecated since v1.16 and MAY
    // be left out for v12+, whose room ID the tombstone, sent after, could not name otherwise.
    if (!newVersion.roomIdFromCreateEvent) {
      const last = await this.deps.db.read((db) =>
        selectLastEventAtOrBefore(db, state.roomId, Number.MAX_SAFE_INTEGER),
      );
      if (last !== undefined) predecessor.event_id = last;
    }
    const creationContent: JsonObject = { predecessor };
    if (typeof create.content.type === 'string') creationContent.type = create.content.type;
    if (create.content['m.federate'] === false) creationContent['m.federate'] = false;
    if (newVersion.privilegedCreators && additionalCreators.length > 0) {
      creationContent.additional_creators = [...additionalCreators];
    }

    const initialState: InitialStateEvent[] = [];
    const plan: { -readonly [K in keyof UpgradePlan]: UpgradePlan[K] } = {
      createRequest: {
        room_version: newVersion.id,
        // Every preset event is in the initial state when the old room has it (as Synapse).
        preset: 'private_chat',
        creation_content: creationContent,
        initial_state: initialState,
      },
    };

    // Power levels first: `RoomCreation` sends them before the rest of the initial state.
    const powerLevels = await state.event('m.room.power_levels');
    let upgraderLevel = newVersion.privilegedCreators ? Number.POSITIVE_INFINITY : 100;
    let newLevels: JsonObject | undefined;
    if (powerLevels !== undefined) {
      const levels = normalizePowerLevels(powerLevels.content, oldVersion);
      const upgraded = upgradedPowerLevels({
        levels,
        oldVersion,
        newVersion,
        upgrader: userId,
        additionalCreators,
      });
      newLevels = upgraded.initial;
      initialState.push({ type: 'm.room.power_levels', content: upgraded.initial });
      if (upgraded.final !== undefined) plan.finalPowerLevels = upgraded.final;
      if (!newVersion.privilegedCreators) upgraderLevel = userLevelIn(upgraded.initial, userId);
      const restricted = restrictedPowerLevels(levels);
      if (restricted !== undefined) {
        plan.oldRestrictedLevels = { ...powerLevels.content, ...restricted };
      }
    }

    for (const type of TRANSFERABLE_STATE) {
      const event = await state.event(type);
      if (event !== undefined) initialState.push({ type, content: event.content });
    }

    const aliases = splitCanonicalAlias(
      await state.content('m.room.canonical_alias'),
      this.deps.serverName,
    );
    if (aliases !== undefined) {
      initialState.push({ type: 'm.room.canonical_alias', content: aliases.moved });
      plan.oldCanonicalAlias = aliases.kept;
    }

    if (create.content.type === 'm.space') {
      for (const child of await state.eventsOfType('m.space.child')) {
        if (Object.keys(child.content).length === 0) continue; // removed from the space
        initialState.push({
          type: child.type,
          state_key: child.stateKey ?? '',
          content: child.content,
        });
      }
    }

    // Bans, except of users the upgrader may not ban in the new room (its creators, and
    // users as powerful as the upgrader), which would make the whole upgrade fail.
    const creators = new Set([
      userId,
      ...(newVersion.privilegedCreators ? additionalCreators : []),
    ]);
    for (const ban of await this.#bans(state.roomId)) {
      const target = ban.stateKey ?? '';
      if (creators.has(target)) continue;
      const targetLevel = newLevels === undefined ? 0 : userLevelIn(newLevels, target);
      if (targetLevel >= upgraderLevel) continue;
      initialState.push({ type: 'm.room.member', state_key: target, content: ban.content });
    }
    return plan;
  }

  async #bans(roomId: string): Promise<RoomEvent[]> {
    const rows = await this.deps.db.read((db) => selectMembersOfRoom(db, roomId, ['ban']));
    const found = await this.deps.graph.getEvents(rows.map((row) => row.event_id));
    return rows.map((row) => found.get(row.event_id)).filter((event) => event !== undefined);
  }
}

/**
 * The local aliases of a canonical alias event go to the new room (they move with the
 * tombstone); the old room keeps the others. Undefined when no alias is local.
 */
export function splitCanonicalAlias(
  content: JsonObject | undefined,
  serverName: string,
): { moved: JsonObject; kept: JsonObject } | undefined {
  if (content === undefined) return undefined;
  const isLocal = (alias: JsonValue | undefined): alias is string =>
    isValidRoomAlias(alias) && parseRoomAlias(alias).serverName === serverName;
  const moved: JsonObject = {};
  const kept: JsonObject = { ...content };
  if (isLocal(content.alias)) {
    moved.alias = content.alias;
    delete kept.alias;
  }
  if (Array.isArray(content.alt_aliases)) {
    const local = content.alt_aliases.filter(isLocal);
    if (local.length > 0) {
      moved.alt_aliases = local;
      const others = content.alt_aliases.filter((alias) => !isLocal(alias));
      if (others.length > 0) kept.alt_aliases = others;
      else delete kept.alt_aliases;
    }
  }
  return Object.keys(moved).length === 0 ? undefined : { moved, kept };
}

function stateDraft(sender: string, type: string, content: JsonObject): EventDraft {
  return { type, stateKey: '', sender, content };
}
