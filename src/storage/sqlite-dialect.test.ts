import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { withStatementCache } from './sqlite-dialect.js';

describe('withStatementCache', () => {
  it('prepares a statement once and reuses it', () => {
    const file = new BetterSqlite3(':memory:');
    const cached = withStatementCache(file);
    const first = cached.prepare('select 1 as one');
    expect(cached.prepare('select 1 as one')).toBe(first);
    expect(first.all([])).toEqual([{ one: 1 }]);
    expect(cached.prepare('select 1 as one').all([])).toEqual([{ one: 1 }]);
    cached.close();
    expect(file.open).toBe(false);
  });

  it('evicts the least recently used statement beyond its capacity', () => {
    const cached = withStatementCache(new BetterSqlite3(':memory:'), 2);
    const a = cached.prepare('select 1');
    const b = cached.prepare('select 2');
    expect(cached.prepare('select 1')).toBe(a); // a is now the most recently used
    cached.prepare('select 3'); // evicts b
    expect(cached.prepare('select 1')).toBe(a);
    expect(cached.prepare('select 2')).not.toBe(b);
    cached.close();
  });

  it('keeps statements valid across schema changes', () => {
    const cached = withStatementCache(new BetterSqlite3(':memory:'));
    cached.prepare('create table t (x integer)').run([]);
    const insert = cached.prepare('insert into t (x) values (?)');
    insert.run([1]);
    cached.prepare('alter table t add column y integer').run([]);
    expect(cached.prepare('insert into t (x) values (?)')).toBe(insert);
    insert.run([2]);
    expect(cached.prepare('select x, y from t order by x').all([])).toEqual([
      { x: 1, y: null },
      { x: 2, y: null },
    ]);
    cached.close();
  });
});
