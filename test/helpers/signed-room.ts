/**
 * Builds rooms of real PDUs for tests and benchmarks: content-hashed and signed by the sender's
 * server, v1–2 rooms with `$opaque:server` event IDs and `[event_id, {sha256}]` references to the
 * referenced events' real reference hashes, v3+ with reference-hash event IDs, v12 with the room
 * ID derived from the create event. `auth_events` are picked by auth events selection from the
 * state the builder tracks (it assumes every event it builds is accepted, unless told otherwise).
 */

import { encodeBase64 } from '../../src/core/base64.js';
import type { JsonObject, JsonValue } from '../../src/core/canonical-json.js';
import { authEventKeysFor } from '../../src/protocol/auth/auth-events-selection.js';
import { computeReferenceHash, generateLegacyEventId } from '../../src/protocol/event-hashing.js';
import { signEvent } from '../../src/protocol/event-signing.js';
import { stateKeyOf, toRoomEvent } from '../../src/protocol/room-event.js';
import type { RoomEvent, StateKey, StateMap } from '../../src/protocol/room-event.js';
import { requireRoomVersion } from '../../src/protocol/room-versions.js';
import type { RoomVersion } from '../../src/protocol/room-versions.js';
import { generateSigningKey } from '../../src/protocol/signing-key.js';
import type { SigningKey } from '../../src/protocol/signing-key.js';

export interface BuildSpec {
  type: string;
  sender: string;
  /** Omit for a message event. */
  stateKey?: string;
  content?: JsonObject;
  /** Defaults to the builder's head (the last event it tracked). */
  prevEvents?: readonly string[];
  /** The state to pick auth events from; defaults to the tracked state after `prevEvents[0]`. */
  state?: StateMap;
  /**
   * Whether the builder treats the event as accepted: it becomes the head and, if a state
   * event, part of the state after it. Default true.
   */
  track?: boolean;
}

const FIRST_TS = 1_700_000_000_000;

function serverOf(userId: string): string {
  return userId.slice(userId.indexOf(':') + 1);
}

export class SignedRoom {
  readonly version: RoomVersion;
  readonly create: RoomEvent;
  /** Every event built, in build order. */
  readonly events: RoomEvent[] = [];
  readonly #keys = new Map<string, SigningKey>();
  readonly #byId = new Map<string, RoomEvent>();
  /** States after tracked events; with `keepHistory: false`, only the head's. */
  readonly #stateAfter = new Map<string, Map<StateKey, string>>();
  readonly #keepHistory: boolean;
  #head: string;
  #ts = FIRST_TS;

  /**
   * `keepHistory: false` keeps only the head's state (updated in place), for rooms too big to
   * copy the state at every event.
   */
  constructor(versionId: string, creator: string, options: { keepHistory?: boolean } = {}) {
    this.#keepHistory = options.keepHistory ?? true;
    this.version = requireRoomVersion(versionId);
    const content: JsonObject = { room_version: this.version.id };
    if (!this.version.implicitRoomCreator) content.creator = creator;
    const pdu: JsonObject = {
      type: 'm.room.create',
      state_key: '',
      sender: creator,
      content,
      depth: 1,
      origin_server_ts: this.#nextTs(),
      prev_events: [],
      auth_events: [],
    };
    if (!this.version.roomIdFromCreateEvent) {
      pdu.room_id = `!${Math.random().toString(36).slice(2, 12)}:${serverOf(creator)}`;
    }
    this.create = this.#finish(pdu, creator);
    this.#head = this.create.eventId;
    this.#track(this.create, new Map([[stateKeyOf('m.room.create', ''), this.create.eventId]]));
  }

  get roomId(): string {
    return this.create.roomId;
  }

  /** The last tracked event. */
  get head(): string {
    return this.#head;
  }

  event(eventId: string): RoomEvent {
    const event = this.#byId.get(eventId);
    if (event === undefined) throw new Error(`no event ${eventId} in the test room`);
    return event;
  }

  /** The state after a tracked event, as the builder sees it (every event accepted). */
  stateAfter(eventId: string): Map<StateKey, string> {
    return new Map(this.#trackedState(eventId));
  }

  /** The state before a tracked event with one prev event. */
  stateBefore(eventId: string): Map<StateKey, string> {
    const event = this.event(eventId);
    const [prev] = event.prevEventIds;
    return prev === undefined ? new Map() : this.stateAfter(prev);
  }

  build(spec: BuildSpec): RoomEvent {
    const prevEvents = spec.prevEvents ?? [this.#head];
    const state =
      spec.state ?? (prevEvents[0] === undefined ? new Map() : this.#trackedState(prevEvents[0]));
    const content = spec.content ?? {};
    const authEventIds = authEventKeysFor(
      { type: spec.type, stateKey: spec.stateKey, sender: spec.sender, content },
      this.version,
    ).flatMap((key) => state.get(key) ?? []);
    const depth = Math.max(0, ...prevEvents.map((id) => this.event(id).depth)) + 1;
    const pdu: JsonObject = {
      room_id: this.roomId,
      type: spec.type,
      sender: spec.sender,
      content,
      depth,
      origin_server_ts: this.#nextTs(),
      prev_events: this.#references(prevEvents),
      auth_events: this.#references(authEventIds),
    };
    if (spec.stateKey !== undefined) pdu.state_key = spec.stateKey;
    const event = this.#finish(pdu, spec.sender);
    if (spec.track !== false) {
      const inPlace = !this.#keepHistory && state === this.#stateAfter.get(this.#head);
      const after = inPlace ? (state as Map<StateKey, string>) : new Map(state);
      if (event.stateKey !== undefined)
        after.set(stateKeyOf(event.type, event.stateKey), event.eventId);
      this.#track(event, after);
    }
    return event;
  }

  join(userId: string, extra: Partial<BuildSpec> = {}): RoomEvent {
    return this.member(userId, userId, 'join', extra);
  }

  member(
    sender: string,
    target: string,
    membership: string,
    extra: Partial<BuildSpec> = {},
  ): RoomEvent {
    return this.build({
      type: 'm.room.member',
      sender,
      stateKey: target,
      content: { membership },
      ...extra,
    });
  }

  state(
    sender: string,
    type: string,
    content: JsonObject,
    extra: Partial<BuildSpec> = {},
  ): RoomEvent {
    return this.build({ type, sender, stateKey: '', content, ...extra });
  }

  message(sender: string, body: string, extra: Partial<BuildSpec> = {}): RoomEvent {
    return this.build({
      type: 'm.room.message',
      sender,
      content: { msgtype: 'm.text', body },
      ...extra,
    });
  }

  /** Power levels giving `users` their levels; the creator gets 100 where it has to be listed. */
  powerLevels(sender: string, users: Record<string, number>, extra: Partial<BuildSpec> = {}) {
    const listed: Record<string, JsonValue> = { ...users };
    if (this.version.privilegedCreators) delete listed[this.create.sender];
    else listed[this.create.sender] ??= 100;
    return this.state(
      sender,
      'm.room.power_levels',
      {
        ban: 50,
        kick: 50,
        redact: 50,
        invite: 0,
        events_default: 0,
        state_default: 50,
        users_default: 0,
        events: {},
        users: listed,
      },
      extra,
    );
  }

  #nextTs(): number {
    this.#ts += 1000;
    return this.#ts;
  }

  #keyOf(server: string): SigningKey {
    let key = this.#keys.get(server);
    if (key === undefined) this.#keys.set(server, (key = generateSigningKey()));
    return key;
  }

  #references(eventIds: readonly string[]): JsonValue[] {
    if (this.version.eventIdFormat !== 'v1') return [...eventIds];
    return eventIds.map((id) => [
      id,
      { sha256: encodeBase64(computeReferenceHash(this.event(id).pdu, this.version)) },
    ]);
  }

  #finish(pdu: JsonObject, sender: string): RoomEvent {
    const server = serverOf(sender);
    if (this.version.eventIdFormat === 'v1') {
      pdu.event_id = generateLegacyEventId(server);
      pdu.origin = server;
    }
    const event = toRoomEvent(
      signEvent(pdu, server, this.#keyOf(server), this.version),
      this.version,
    );
    this.#byId.set(event.eventId, event);
    this.events.push(event);
    return event;
  }

  #trackedState(eventId: string): Map<StateKey, string> {
    const state = this.#stateAfter.get(eventId);
    if (state === undefined) throw new Error(`no tracked state after ${eventId}`);
    return state;
  }

  #track(event: RoomEvent, after: Map<StateKey, string>): void {
    if (!this.#keepHistory) this.#stateAfter.clear();
    this.#stateAfter.set(event.eventId, after);
    this.#head = event.eventId;
  }
}
