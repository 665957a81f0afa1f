import { describe, expect, it } from 'vitest';
import { splitCanonicalAlias } from './room-upgrade.js';

describe('splitCanonicalAlias', () => {
  it('moves the local aliases and keeps the others in the old room', () => {
    expect(
      splitCanonicalAlias(
        {
          alias: '#main:a.test',
          alt_aliases: ['#alt:a.test', '#far:b.test', 'not an alias'],
          'org.example': 1,
        },
        'a.test',
      ),
    ).toEqual({
      moved: { alias: '#main:a.test', alt_aliases: ['#alt:a.test'] },
      kept: { alt_aliases: ['#far:b.test', 'not an alias'], 'org.example': 1 },
    });
  });

  it('keeps a remote canonical alias and drops emptied alt_aliases', () => {
    expect(
      splitCanonicalAlias({ alias: '#far:b.test', alt_aliases: ['#alt:a.test'] }, 'a.test'),
    ).toEqual({ moved: { alt_aliases: ['#alt:a.test'] }, kept: { alias: '#far:b.test' } });
  });

  it('moves nothing without local aliases', () => {
    expect(splitCanonicalAlias({ alias: '#far:b.test' }, 'a.test')).toBeUndefined();
    expect(splitCanonicalAlias({}, 'a.test')).toBeUndefined();
    expect(splitCanonicalAlias(undefined, 'a.test')).toBeUndefined();
  });
});
