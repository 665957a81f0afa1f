import type { Clock } from '../../src/core/clock.js';

/** A clock that stands still until a test moves it (token expiry, nonce expiry, …). */
export class ManualClock implements Clock {
  #now: number;

  constructor(start = Date.now()) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  advance(ms: number): void {
    this.#now += ms;
  }
}
