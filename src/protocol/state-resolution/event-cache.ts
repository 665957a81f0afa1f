/**
 * The events one state resolution works on: fetched in batches (one `fetchEvents` call per layer
 * of an auth-chain walk), each ID at most once, unknown IDs remembered as missing. One cache lives
 * for one resolution call and is then dropped: nothing is shared across calls or tenants.
 */

import type { RoomEvent } from '../room-event.js';

/**
 * Loads events by ID in one batch. The result may omit IDs the caller does not know; those events
 * are treated as missing (skipped), never as an error.
 */
export type FetchEvents = (ids: readonly string[]) => Promise<ReadonlyMap<string, RoomEvent>>;

/** How many units of work run between two yields to the event loop. */
const STEPS_PER_YIELD = 4096;

export class EventCache {
  readonly #fetchEvents: FetchEvents;
  readonly #events = new Map<string, RoomEvent>();
  readonly #missing = new Set<string>();
  /** IDs whose auth events have been walked already, so later walks stop there. */
  readonly #walked = new Set<string>();
  #steps = 0;

  constructor(fetchEvents: FetchEvents) {
    this.#fetchEvents = fetchEvents;
  }

  get(id: string): RoomEvent | undefined {
    return this.#events.get(id);
  }

  /** Fetches, in one call, the IDs that are neither loaded nor known to be missing. */
  async load(ids: Iterable<string>): Promise<void> {
    const wanted = new Set<string>();
    for (const id of ids) {
      if (!this.#events.has(id) && !this.#missing.has(id)) wanted.add(id);
    }
    if (wanted.size === 0) return;
    const fetched = await this.#fetchEvents([...wanted]);
    for (const id of wanted) {
      const event = fetched.get(id);
      // An event filed under another ID is as good as missing: trusting it would let one ID stand for another.
      if (event !== undefined && event.eventId === id) this.#events.set(id, event);
      else this.#missing.add(id);
    }
  }

  /** Loads the events and everything reachable from them through `auth_events`, a layer per call. */
  async loadAuthClosure(ids: Iterable<string>): Promise<void> {
    let frontier = new Set<string>();
    for (const id of ids) if (!this.#walked.has(id)) frontier.add(id);
    while (frontier.size > 0) {
      await this.load(frontier);
      const next = new Set<string>();
      for (const id of frontier) {
        this.#walked.add(id);
        const event = this.#events.get(id);
        if (event === undefined) continue;
        for (const authId of event.authEventIds) {
          if (!this.#walked.has(authId) && !frontier.has(authId)) next.add(authId);
        }
        if (this.due()) await yieldToEventLoop();
      }
      frontier = next;
    }
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
