/**
 * How long a client refused with 429 (its tenant's queue is full) should wait before asking
 * again: about the time the queue ahead of it takes to drain, so that clients come back when
 * there is room rather than in a storm that is refused again. matrix-js-sdk waits for
 * `retry_after_ms`; other clients read `Retry-After`.
 *
 *   drain ≈ queued × (mean time a request holds its slot) ÷ slots, within 100 ms … 5 s.
 *
 * A slot's hold time is measured from the moment it is granted until it is released (the
 * request's turn and its work), so under load it already reflects how busy the event loop is.
 */

export const MIN_RETRY_AFTER_MS = 100;
export const MAX_RETRY_AFTER_MS = 5_000;
/** Assumed hold time before any request has released a slot. */
export const DEFAULT_HOLD_MS = 100;

export interface QueueState {
  /** Requests waiting for a slot. */
  readonly queued: number;
  /** Slots (requests that may run at once). */
  readonly slots: number;
  /** Recent mean time a request holds a slot, in ms (undefined: no request has finished yet). */
  readonly meanHoldMs: number | undefined;
}

export function suggestedRetryAfterMs(state: QueueState): number {
  const holdMs = state.meanHoldMs ?? DEFAULT_HOLD_MS;
  const drainMs = (state.queued * holdMs) / state.slots;
  return Math.round(Math.min(MAX_RETRY_AFTER_MS, Math.max(MIN_RETRY_AFTER_MS, drainMs)));
}
