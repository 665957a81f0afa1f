/**
 * A small room builder for the auth rule tests (used by tests only). It makes PDUs that look
 * signed (hashes and signatures are placeholders: the auth rules do not check them), turns them
 * into `RoomEvent`s with `toRoomEvent` (so v3+ event IDs and v12 room IDs are real reference
 * hashes), picks `auth_events` by auth events selection, and keeps the room state.
 */

import type { JsonObject, JsonValue } from '../../core/canonical-json.js';
import { stateKeyOf, toRoomEvent } from '../room-event.js';
import type { RoomEvent, StateKey } from '../room-event.js';
import { KNOWN_ROOM_VERSIONS } from '../room-versions.js';
import type { RoomVersion } from '../room-versions.js';
import { authEventKeysFor } from './auth-events-selection.js';
import { domainOf } from './auth-state.js';
import { authorizeEvent } from './authorize-event.js';

export const ALICE = '@alice:a.test'; // creates the room
export const DAVE = '@dave:a.test'; // same server as Alice
export const MOD = '@mod:b.test'; // power level 50 in standardRoom
export const BOB = '@bob:b.test'; // power level 0 in standardRoom
export const CAROL = '@carol:c.test'; // not in the room
export const EVE = '@eve:e.test'; // not in the room

export function versionById(id: string): RoomVersion {
  const version = KNOWN_ROOM_VERSIONS.find((v) => v.id === id);
  if (version === undefined) throw new Error(`no room version ${id}`);
  return version;
}

export interface EventSpec {
  type: string;
  sender: string;
  /** Omit for a message event. */
  stateKey?: string;
  content?: JsonObject;
  /** Event IDs; defaults to the room's latest event. */
  prevEvents?: readonly string[];
  /** Event IDs; defaults to the auth events selection over the room's state. */
  authEvents?: readonly string[];
  /** The redacted event, for `m.room.redaction` (placed where the room version keeps it). */
  redacts?: string;
  /** Overrides the room ID (events "from another room"). */
  roomId?: string;
  /** v1–2 only: the event ID, by default `$<n>:<sender's server>`. */
  eventId?: string;
  /** Top-level keys to add or override in the PDU. */
  extra?: JsonObject;
}

/** Options for a room's create event. */
export interface CreateSpec {
  sender?: string;
  /** Merged into the default content (`room_version`, and `creator` before v11). */
  content?: JsonObject;
  /** v1–11: the room ID, by default `!room<n>:<sender's server>`. */
  roomId?: string;
  prevEvents?: readonly string[];
  extra?: JsonObject;
}

export class TestRoom {
  readonly create: RoomEvent;
  private readonly stateMap = new Map<StateKey, RoomEvent>();
  private readonly byId = new Map<string, RoomEvent>();
  private latest: string;
  private counter: number;

  constructor(
    readonly version: RoomVersion,
    createSpec: CreateSpec = {},
  ) {
    this.counter = 0;
    this.create = makeCreateEvent(version, createSpec, this.nextNumber());
    this.latest = this.create.eventId;
    this.apply(this.create);
  }

  get roomId(): string {
    return this.create.roomId;
  }

  /** The current state (a fresh copy each time, so tests may edit it). */
  get state(): Map<StateKey, RoomEvent> {
    return new Map(this.stateMap);
  }

  event(eventId: string): RoomEvent {
    const event = this.byId.get(eventId);
    if (event === undefined) throw new Error(`unknown event ${eventId}`);
    return event;
  }

  stateEvent(type: string, stateKey: string): RoomEvent | undefined {
    return this.stateMap.get(stateKeyOf(type, stateKey));
  }

  /** Builds an event on top of the room without adding it. */
  build(spec: EventSpec): RoomEvent {
    const version = this.version;
    const n = this.nextNumber();
    const content: JsonObject = { ...spec.content };
    const pdu: JsonObject = {
      type: spec.type,
      room_id: spec.roomId ?? this.roomId,
      sender: spec.sender,
      content,
      depth: n,
      origin_server_ts: 1_700_000_000_000 + n,
      prev_events: this.references(spec.prevEvents ?? [this.latest]),
      auth_events: this.references(
        spec.authEvents ?? this.selectAuthEvents(spec).map((e) => e.eventId),
      ),
      hashes: { sha256: 'aGFzaA' },
      signatures: { [domainOf(spec.sender) ?? 'x']: { 'ed25519:test': 'c2lnbmF0dXJl' } },
    };
    if (spec.stateKey !== undefined) pdu.state_key = spec.stateKey;
    if (spec.redacts !== undefined) {
      if (version.redactsInContent) content.redacts = spec.redacts;
      else pdu.redacts = spec.redacts;
    }
    if (version.eventIdFormat === 'v1') {
      pdu.event_id = spec.eventId ?? `$e${n}:${domainOf(spec.sender) ?? 'x'}`;
    }
    Object.assign(pdu, spec.extra);
    return toRoomEvent(pdu, version);
  }

  /** Adds an event to the room (and to its state if it is a state event), without auth checks. */
  apply(event: RoomEvent): RoomEvent {
    this.byId.set(event.eventId, event);
    this.latest = event.eventId;
    if (event.stateKey !== undefined) {
      this.stateMap.set(stateKeyOf(event.type, event.stateKey), event);
    }
    return event;
  }

  /** Builds and adds an event that the auth rules must allow against the current state. */
  send(spec: EventSpec): RoomEvent {
    const event = this.build(spec);
    const result = authorizeEvent(event, this.stateMap, this.version);
    if (!result.allowed) {
      throw new Error(
        `setup event ${spec.type} by ${spec.sender} rejected: ${result.rule} (${result.reason})`,
      );
    }
    return this.apply(event);
  }

  /** Builds and adds an event whatever the auth rules say (to reach states they would forbid). */
  force(spec: EventSpec): RoomEvent {
    return this.apply(this.build(spec));
  }

  /** The auth events selection over the current state, as events. */
  selectAuthEvents(spec: Pick<EventSpec, 'type' | 'stateKey' | 'sender' | 'content'>): RoomEvent[] {
    const keys = authEventKeysFor(
      {
        type: spec.type,
        stateKey: spec.stateKey,
        sender: spec.sender,
        content: spec.content ?? {},
      },
      this.version,
    );
    return keys.flatMap((key) => this.stateMap.get(key) ?? []);
  }

  private references(eventIds: readonly string[]): JsonObject[string] {
    if (this.version.eventIdFormat !== 'v1') return [...eventIds];
    return eventIds.map((id) => [id, { sha256: 'aGFzaA' }]);
  }

  private nextNumber(): number {
    this.counter += 1;
    return this.counter;
  }
}

/** A create event for a room of `version` (not added to any room). */
export function makeCreateEvent(version: RoomVersion, spec: CreateSpec = {}, n = 1): RoomEvent {
  const sender = spec.sender ?? ALICE;
  const content: JsonObject = { room_version: version.id };
  if (!version.implicitRoomCreator) content.creator = sender;
  Object.assign(content, spec.content);
  const pdu: JsonObject = {
    type: 'm.room.create',
    state_key: '',
    sender,
    content,
    depth: 1,
    origin_server_ts: 1_700_000_000_000 + n,
    prev_events: (spec.prevEvents ?? []).map((id) =>
      version.eventIdFormat === 'v1' ? [id, { sha256: 'aGFzaA' }] : id,
    ),
    auth_events: [],
    hashes: { sha256: 'aGFzaA' },
    signatures: { [domainOf(sender) ?? 'x']: { 'ed25519:test': 'c2lnbmF0dXJl' } },
  };
  if (!version.roomIdFromCreateEvent) {
    pdu.room_id = spec.roomId ?? `!room${n}:${domainOf(sender) ?? 'x'}`;
  }
  if (version.eventIdFormat === 'v1') pdu.event_id = `$create${n}:${domainOf(sender) ?? 'x'}`;
  Object.assign(pdu, spec.extra);
  return toRoomEvent(pdu, version);
}

/** `m.room.member` event spec. */
export function member(
  sender: string,
  target: string,
  membership: string,
  content: JsonObject = {},
): EventSpec {
  return { type: 'm.room.member', sender, stateKey: target, content: { membership, ...content } };
}

/** The power levels of `standardRoom`: Alice 100 (v1–11; a creator in v12), Mod 50, Bob 0. */
export function standardPowerLevels(version: RoomVersion): JsonObject {
  return {
    ban: 50,
    kick: 50,
    redact: 50,
    invite: 0,
    events_default: 0,
    state_default: 50,
    users_default: 0,
    events: { 'm.room.power_levels': 50, 'm.room.tombstone': 100, 'm.room.name': 50 },
    notifications: { room: 50 },
    users: version.privilegedCreators ? { [MOD]: 50 } : { [ALICE]: 100, [MOD]: 50 },
  };
}

/**
 * A room where Alice created and joined and set `standardPowerLevels` (merged with
 * `powerLevels`), Mod and Bob joined while the room was public, and Alice then set `joinRule`.
 */
export function standardRoom(
  version: RoomVersion,
  options: {
    joinRule?: string;
    powerLevels?: Record<string, JsonValue | undefined>;
    create?: CreateSpec;
  } = {},
): TestRoom {
  const room = new TestRoom(version, options.create);
  room.send(member(ALICE, ALICE, 'join'));
  const levels: JsonObject = { ...standardPowerLevels(version) };
  for (const [key, value] of Object.entries(options.powerLevels ?? {})) {
    // An undefined value removes the key.
    if (value === undefined) delete levels[key];
    else levels[key] = value;
  }
  room.send({ type: 'm.room.power_levels', sender: ALICE, stateKey: '', content: levels });
  room.send({
    type: 'm.room.join_rules',
    sender: ALICE,
    stateKey: '',
    content: { join_rule: 'public' },
  });
  room.send(member(MOD, MOD, 'join'));
  room.send(member(BOB, BOB, 'join'));
  const joinRule = options.joinRule ?? 'public';
  if (joinRule !== 'public') {
    room.send({
      type: 'm.room.join_rules',
      sender: ALICE,
      stateKey: '',
      content: { join_rule: joinRule },
    });
  }
  return room;
}
