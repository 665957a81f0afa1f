/**
 * Events as clients see them (client-server API "ClientEvent"): the PDU's client-facing fields,
 * redacted with the room version's algorithm once a redaction applies, plus `unsigned` data this
 * server computes. `/messages`, `/context`, `/event`, `/state` and `/sync` all serve events
 * through here.
 */

import type { Clock } from '../../core/clock.js';
import type { JsonObject } from '../../core/canonical-json.js';
import { redactEvent } from '../../protocol/redaction.js';
import type { RoomEvent } from '../../protocol/room-event.js';
import type { RoomVersion } from '../../protocol/room-versions.js';
import { selectRedactionsOf } from '../../storage/rooms/redactions.js';
import { selectTxnIdsOfEvents } from '../../storage/rooms/txn-ids.js';
import { selectReplacedStates } from '../../storage/rooms/timeline.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import type { RoomGraph } from '../room-graph/room-graph.js';
import { unsignedRoomState } from './stripped-state.js';
import type { StrippedStateEvent, UnsignedRoomStateKey } from './stripped-state.js';

export interface ClientEvent {
  event_id: string;
  room_id: string;
  sender: string;
  type: string;
  state_key?: string;
  content: JsonObject;
  origin_server_ts: number;
  /** `m.room.redaction` events: the redacted event (v1–10 at the top level; v11+ also in content). */
  redacts?: string;
  unsigned: ClientEventUnsigned;
}

export interface ClientEventUnsigned {
  age: number;
  transaction_id?: string;
  prev_content?: JsonObject;
  prev_sender?: string;
  replaces_state?: string;
  membership?: string;
  redacted_because?: ClientEvent;
  /** On the reader's own invite or knock: the room as it was then (stripped state). */
  invite_room_state?: StrippedStateEvent[];
  knock_room_state?: StrippedStateEvent[];
}

/** What the server knows about an event beyond its PDU. */
export interface ClientEventExtras {
  /** The redaction event that applies to it, already formatted. */
  readonly redactedBecause?: ClientEvent;
  /** The client's transaction ID, for its sender's own device only. */
  readonly transactionId?: string;
  /** For state events: the event it replaced in the state (possibly redacted itself). */
  readonly replaced?: {
    readonly eventId: string;
    readonly sender: string;
    readonly content: JsonObject;
  };
  /** The requesting user's membership at the event. */
  readonly membership?: string;
  /** For the reader's own invite or knock: its stripped room state. */
  readonly roomState?: { key: UnsignedRoomStateKey; events: StrippedStateEvent[] };
}

/** Formats one event for clients (pure: everything it needs is passed in). */
export function formatClientEvent(
  event: RoomEvent,
  version: RoomVersion,
  now: number,
  extras: ClientEventExtras = {},
): ClientEvent {
  const content =
    extras.redactedBecause === undefined ? event.content : redactedContent(event, version);
  const formatted: ClientEvent = {
    event_id: event.eventId,
    room_id: event.roomId,
    sender: event.sender,
    type: event.type,
    content,
    origin_server_ts: event.originServerTs,
    unsigned: { age: Math.max(0, now - event.originServerTs) },
  };
  if (event.stateKey !== undefined) formatted.state_key = event.stateKey;
  // v11 moved `redacts` into content; clients written for older rooms read it at the top level.
  if (event.type === 'm.room.redaction' && event.redacts !== undefined) {
    formatted.redacts = event.redacts;
  }
  const unsigned = formatted.unsigned;
  if (extras.transactionId !== undefined) unsigned.transaction_id = extras.transactionId;
  if (extras.replaced !== undefined) {
    unsigned.replaces_state = extras.replaced.eventId;
    unsigned.prev_content = extras.replaced.content;
    unsigned.prev_sender = extras.replaced.sender;
  }
  if (extras.membership !== undefined) unsigned.membership = extras.membership;
  if (extras.redactedBecause !== undefined) unsigned.redacted_because = extras.redactedBecause;
  if (extras.roomState !== undefined) unsigned[extras.roomState.key] = extras.roomState.events;
  return formatted;
}

function redactedContent(event: RoomEvent, version: RoomVersion): JsonObject {
  return redactEvent(event.pdu, version).content as JsonObject;
}

/** Who the events are served to: their own device's transaction IDs are added. */
export interface EventReader {
  readonly userId: string;
  readonly deviceId?: string;
}

/**
 * Formats stored events for one reader, fetching what `unsigned` needs in a few batched reads:
 * redactions (and the redaction events), the reader's device's transaction IDs, and the state
 * each state event replaced.
 */
export class ClientEvents {
  constructor(
    private readonly db: TenantDatabase,
    private readonly graph: RoomGraph,
    private readonly clock: Clock,
  ) {}

  async format(
    events: readonly RoomEvent[],
    reader?: EventReader,
    memberships?: ReadonlyMap<string, string>,
  ): Promise<ClientEvent[]> {
    if (events.length === 0) return [];
    const ids = events.map((event) => event.eventId);
    const [replacedIds, txnIds] = await Promise.all([
      // Only state events replace anything.
      this.db.read((db) =>
        selectReplacedStates(
          db,
          events.filter((event) => event.stateKey !== undefined).map((event) => event.eventId),
        ),
      ),
      reader?.deviceId === undefined
        ? Promise.resolve(new Map<string, string>())
        : this.db.read((db) =>
            selectTxnIdsOfEvents(
              db,
              reader.userId,
              reader.deviceId as string,
              events.filter((event) => event.sender === reader.userId).map((e) => e.eventId),
            ),
          ),
    ]);
    const replacedEvents = await this.graph.getEvents([...replacedIds.values()]);
    const redactions = await this.db.read((db) =>
      selectRedactionsOf(db, [...ids, ...replacedEvents.keys()]),
    );
    const redactionEvents = await this.graph.getEvents([...redactions.values()]);
    const now = this.clock.now();
    const versions = new Map<string, RoomVersion>();
    const versionOf = async (roomId: string): Promise<RoomVersion> => {
      let version = versions.get(roomId);
      if (version === undefined) {
        version = await this.graph.roomVersionOf(roomId);
        if (version === undefined) throw new Error(`room ${roomId} of a stored event is unknown`);
        versions.set(roomId, version);
      }
      return version;
    };

    const formatted: ClientEvent[] = [];
    for (const event of events) {
      const version = await versionOf(event.roomId);
      const extras: {
        -readonly [K in keyof ClientEventExtras]: ClientEventExtras[K];
      } = {};
      const redactionId = redactions.get(event.eventId);
      const redaction = redactionId === undefined ? undefined : redactionEvents.get(redactionId);
      if (redaction !== undefined) {
        extras.redactedBecause = formatClientEvent(redaction, version, now);
      }
      const txnId = txnIds.get(event.eventId);
      if (txnId !== undefined) extras.transactionId = txnId;
      const replacedId = replacedIds.get(event.eventId);
      const replaced = replacedId === undefined ? undefined : replacedEvents.get(replacedId);
      if (replaced !== undefined) {
        extras.replaced = {
          eventId: replaced.eventId,
          sender: replaced.sender,
          content: redactions.has(replaced.eventId)
            ? redactedContent(replaced, version)
            : replaced.content,
        };
      }
      const membership = memberships?.get(event.eventId);
      if (membership !== undefined) extras.membership = membership;
      if (reader !== undefined && event.stateKey === reader.userId && redaction === undefined) {
        const roomState = await unsignedRoomState(this.graph, event);
        if (roomState !== undefined) extras.roomState = roomState;
      }
      formatted.push(formatClientEvent(event, version, now, extras));
    }
    return formatted;
  }

  /** Formats one event (see `format`). */
  async formatOne(
    event: RoomEvent,
    reader?: EventReader,
    membership?: string,
  ): Promise<ClientEvent> {
    const memberships =
      membership === undefined ? undefined : new Map([[event.eventId, membership]]);
    const [formatted] = await this.format([event], reader, memberships);
    return formatted as ClientEvent;
  }

  /** Whether a valid redaction applies to the event. */
  async isRedacted(eventId: string): Promise<boolean> {
    return (await this.db.read((db) => selectRedactionsOf(db, [eventId]))).has(eventId);
  }
}
