/**
 * The events one state resolution works on: fetched in batches (one `fetchEvents` call per layer
 * of an auth-chain walk), each ID at most once, unknown IDs remembered as missing. One cache lives
 * for one resolution call and is then dropped: nothing is shared across calls or tenants.
 *
 * Given a `fetchAuthEventIds` callback as well, the auth-chain walks fetch only the IDs of each
 * event's auth events, and full events are loaded afterwards, only where the algorithm reads
 * them (`loadFound`). Either way a resolution sees the same events: those the walks found.
 */

import type { RoomEvent } from '../room-event.js';

/**
 * Loads events by ID in one batch. The result may omit IDs the caller does not know; those events
 * are treated as missing (skipped), never as an error.
 */
export type FetchEvents = (ids: readonly string[]) => Promise<ReadonlyMap<string, RoomEvent>>;

/**
 * Loads, in one batch, the `auth_events` IDs of events by event ID (an event without auth events
 * maps to an empty list). Like `FetchEvents`, the result omits IDs the caller does not know, and
 * it must know the same events as the `FetchEvents` it goes with. For v12 rooms these are the
 * listed auth events, without the create event the room ID implies.
 */
export type FetchAuthEventIds = (
  ids: readonly string[],
) => Promise<ReadonlyMap<string, readonly string[]>>;

/** How many units of work run between two yields to the event loop. */
const STEPS_PER_YIELD = 4096;

export class EventCache {
  readonly #fetchEvents: FetchEvents;
  readonly #fetchAuthEventIds: FetchAuthEventIds | undefined;
  readonly #events = new Map<string, RoomEvent>();
  readonly #missing = new Set<string>();
  /** The auth event IDs of events the walks found (with `fetchAuthEventIds` only). */
  readonly #authIds = new Map<string, readonly string[]>();
  /** IDs whose auth events have been walked already, so later walks stop there. */
  readonly #walked = new Set<string>();
  #steps = 0;

  constructor(fetchEvents: FetchEvents, fetchAuthEventIds?: FetchAuthEventIds) {
    this.#fetchEvents = fetchEvents;
    this.#fetchAuthEventIds = fetchAuthEventIds;
  }

  get(id: string): RoomEvent | undefined {
    return this.#events.get(id);
  }

  /** Whether the event is known: loaded, or found by a walk over IDs (maybe not loaded yet). */
  has(id: string): boolean {
    return this.#events.has(id) || this.#authIds.has(id);
  }

  /** A known event's `auth_events`, from the event or from an ID walk; undefined if unknown. */
  authEventIdsOf(id: string): readonly string[] | undefined {
    return this.#authIds.get(id) ?? this.#events.get(id)?.authEventIds;
  }

  /** Fetches, in one call, the IDs that are neither loaded nor known to be missing. */
  async load(ids: Iterable<string>): Promise<void> {
    const wanted = new Set<string>();
    for (const id of ids) {
      if (!this.#events.has(id) && !this.#missing.has(id)) wanted.add(id);
    }
    await this.#fetch(wanted);
  }

  /**
   * Loads, in one call, the events among `ids` that a walk found and that are not loaded yet.
   * Others stay unknown: after its walks, a resolution sees no more events than they found.
   */
  async loadFound(ids: Iterable<string>): Promise<void> {
    const wanted = new Set<string>();
    for (const id of ids) {
      if (this.#authIds.has(id) && !this.#events.has(id) && !this.#missing.has(id)) wanted.add(id);
    }
    await this.#fetch(wanted);
  }

  async #fetch(wanted: ReadonlySet<string>): Promise<void> {
    if (wanted.size === 0) return;
    const fetched = await this.#fetchEvents([...wanted]);
    for (const id of wanted) {
      const event = fetched.get(id);
      // An event filed under another ID is as good as missing: trusting it would let one ID stand for another.
      if (event !== undefined && event.eventId === id) this.#events.set(id, event);
      else this.#missing.add(id);
    }
  }

  /**
   * Walks the events and everything reachable from them through `auth_events`, a batch per
   * layer: loading the events, or with `fetchAuthEventIds` only their auth event IDs.
   */
  async loadAuthClosure(ids: Iterable<string>): Promise<void> {
    // An ID counts as walked once queued: one lookup per edge decides whether to go there.
    let frontier: string[] = [];
    for (const id of ids) {
      if (this.#walked.has(id)) continue;
      this.#walked.add(id);
      frontier.push(id);
    }
    while (frontier.length > 0) {
      const fetched = await this.#fetchLayer(frontier);
      const next: string[] = [];
      for (const id of frontier) {
        // Only IDs not known yet were fetched.
        let authIds = fetched?.get(id);
        if (authIds !== undefined) this.#authIds.set(id, authIds);
        else authIds = this.authEventIdsOf(id);
        if (authIds === undefined) continue;
        for (const authId of authIds) {
          if (this.#walked.has(authId)) continue;
          this.#walked.add(authId);
          next.push(authId);
        }
        if (this.due()) await yieldToEventLoop();
      }
      frontier = next;
    }
  }

  /** One layer of a walk: the events themselves, or only the auth event IDs of unknown ones. */
  async #fetchLayer(
    frontier: readonly string[],
  ): Promise<ReadonlyMap<string, readonly string[]> | undefined> {
    if (this.#fetchAuthEventIds === undefined) {
      await this.load(frontier);
      return undefined;
    }
    const wanted: string[] = [];
    for (const id of frontier) if (!this.has(id) && !this.#missing.has(id)) wanted.push(id);
    return wanted.length === 0 ? undefined : this.#fetchAuthEventIds(wanted);
  }

  /**
   * Counts `units` of work; true once enough has run since the last yield that the caller should
   * `await yieldToEventLoop()`, so that one large resolution does not hold up other tenants.
   */
  due(units = 1): boolean {
    this.#steps += units;
    if (this.#steps < STEPS_PER_YIELD) return false;
    this.#steps = 0;
    return true;
  }
}

export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
