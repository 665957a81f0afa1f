import { describe, expect, it } from 'vitest';
import { systemClock } from './clock.js';

describe('systemClock', () => {
  it('reports wall-clock milliseconds since the epoch', () => {
    const before = Date.now();
    const now = systemClock.now();
    expect(Number.isInteger(now)).toBe(true);
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });

  it('is frozen, so no tenant can replace it for the others', () => {
    expect(Object.isFrozen(systemClock)).toBe(true);
  });
});
