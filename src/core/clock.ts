/** Where time comes from: passed in explicitly so tests can control it. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

/** The real wall clock. Frozen and stateless, so sharing it between tenants is safe. */
export const systemClock: Clock = Object.freeze({ now: () => Date.now() });
