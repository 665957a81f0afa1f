import { describe, expect, it } from 'vitest';
import { formatStreamToken, parseStreamToken } from './stream-token.js';

describe('stream tokens', () => {
  it('round-trips positions', () => {
    expect(formatStreamToken(42)).toBe('s42');
    expect(parseStreamToken('s42')).toBe(42);
    // Events fetched from a room's past sit below 0.
    expect(formatStreamToken(-7)).toBe('s-7');
    expect(parseStreamToken('s-7')).toBe(-7);
  });

  it('reads the events position of a sync token', () => {
    expect(parseStreamToken('s17_4_0_9_2_0_1')).toBe(17);
    expect(parseStreamToken('s17_')).toBe(17);
  });

  it('refuses anything else with M_INVALID_PARAM', () => {
    for (const token of [
      '',
      '42',
      's',
      'sx',
      't42',
      's42x',
      's1234567890123456',
      'S4',
      's--1',
      's-',
    ]) {
      expect(() => parseStreamToken(token), token).toThrow(
        expect.objectContaining({ errcode: 'M_INVALID_PARAM' }),
      );
    }
  });
});
