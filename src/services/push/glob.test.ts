import { describe, expect, it } from 'vitest';
import { compileGlob } from './glob.js';

describe('compileGlob, whole values', () => {
  it("matches the spec's example: lunc?* against topics", () => {
    const glob = compileGlob('lunc?*');
    expect(glob.matchesWhole('Lunch plans')).toBe(true);
    expect(glob.matchesWhole('LUNCH')).toBe(true);
    expect(glob.matchesWhole(' lunch')).toBe(false);
    expect(glob.matchesWhole('lunc')).toBe(false);
  });

  it('needs the whole value, case-insensitively', () => {
    const glob = compileGlob('m.room.message');
    expect(glob.matchesWhole('m.room.message')).toBe(true);
    expect(glob.matchesWhole('M.Room.Message')).toBe(true);
    expect(glob.matchesWhole('m.room.message.extra')).toBe(false);
    expect(glob.matchesWhole('xm.room.message')).toBe(false);
    // Regular expression characters are plain characters.
    expect(compileGlob('a.b').matchesWhole('axb')).toBe(false);
    expect(compileGlob('(a)+[b]').matchesWhole('(A)+[B]')).toBe(true);
  });

  it('* matches any run of characters, ? exactly one code point', () => {
    expect(compileGlob('*').matchesWhole('')).toBe(true);
    expect(compileGlob('*').matchesWhole('anything at all')).toBe(true);
    expect(compileGlob('a*b*c').matchesWhole('abc')).toBe(true);
    expect(compileGlob('a*b*c').matchesWhole('a-b-c')).toBe(true);
    expect(compileGlob('a*b*c').matchesWhole('a-c-b')).toBe(false);
    expect(compileGlob('a**c').matchesWhole('ac')).toBe(true);
    expect(compileGlob('?').matchesWhole('🐟')).toBe(true);
    expect(compileGlob('??').matchesWhole('🐟')).toBe(false);
    expect(compileGlob('line*end').matchesWhole('line\nand end')).toBe(true);
  });

  it('stays fast on patterns that make backtracking matchers explode', () => {
    const pattern = compileGlob('*a*a*a*a*a*a*a*a*a*a*b');
    const text = 'a'.repeat(20_000);
    const start = performance.now();
    expect(pattern.matchesWhole(text)).toBe(false);
    expect(pattern.matchesWords(text)).toBe(false);
    expect(performance.now() - start).toBeLessThan(2_000);
  });
});

describe('compileGlob, between word boundaries', () => {
  it("matches the spec's example: ex*ple against bodies", () => {
    const glob = compileGlob('ex*ple');
    expect(glob.matchesWords('An example event.')).toBe(true);
    expect(glob.matchesWords('exple')).toBe(true);
    expect(glob.matchesWords('An exciting triple-whammy')).toBe(true);
    expect(glob.matchesWords('examples')).toBe(false);
    expect(glob.matchesWords('an_example')).toBe(false);
  });

  it('needs a boundary on both sides of a literal', () => {
    const glob = compileGlob('cake');
    expect(glob.matchesWords('I like CAKE!')).toBe(true);
    expect(glob.matchesWords('cake')).toBe(true);
    expect(glob.matchesWords('(cake)')).toBe(true);
    expect(glob.matchesWords('cakes')).toBe(false);
    expect(glob.matchesWords('cupcake')).toBe(false);
    expect(glob.matchesWords('cupcake and cake')).toBe(true);
    expect(glob.matchesWords('bé cake')).toBe(true);
  });

  it('a literal glob takes * and ? as they are', () => {
    const glob = compileGlob('Dr. W?o', { literal: true });
    expect(glob.matchesWords('hello dr. w?o!')).toBe(true);
    expect(glob.matchesWords('hello Dr. Who')).toBe(false);
  });
});
