import { describe, expect, it } from 'vitest';
import {
  DEFAULT_HOLD_MS,
  MAX_RETRY_AFTER_MS,
  MIN_RETRY_AFTER_MS,
  suggestedRetryAfterMs,
} from './retry-after.js';

describe('suggestedRetryAfterMs', () => {
  it('is the time the queue takes to drain: queued × mean hold time ÷ slots', () => {
    expect(suggestedRetryAfterMs({ queued: 256, slots: 32, meanHoldMs: 50 })).toBe(400);
    expect(suggestedRetryAfterMs({ queued: 10, slots: 2, meanHoldMs: 120 })).toBe(600);
  });

  it('grows with the queue and with the hold time', () => {
    const at = (queued: number, meanHoldMs: number) =>
      suggestedRetryAfterMs({ queued, slots: 4, meanHoldMs });
    expect(at(40, 50)).toBeGreaterThan(at(20, 50));
    expect(at(20, 100)).toBeGreaterThan(at(20, 50));
  });

  it('stays within 100 ms and 5 s', () => {
    expect(suggestedRetryAfterMs({ queued: 1, slots: 32, meanHoldMs: 1 })).toBe(MIN_RETRY_AFTER_MS);
    expect(suggestedRetryAfterMs({ queued: 0, slots: 1, meanHoldMs: 0 })).toBe(MIN_RETRY_AFTER_MS);
    expect(suggestedRetryAfterMs({ queued: 256, slots: 1, meanHoldMs: 30_000 })).toBe(
      MAX_RETRY_AFTER_MS,
    );
  });

  it('assumes a hold time before any request has finished', () => {
    expect(suggestedRetryAfterMs({ queued: 8, slots: 1, meanHoldMs: undefined })).toBe(
      8 * DEFAULT_HOLD_MS,
    );
  });
});
