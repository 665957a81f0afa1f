import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { describeDatabase, redactDatabaseUrl } from './database-config.js';
import { postgresDatabaseUrl, quotePostgresIdentifier } from './postgres-admin.js';
import { reasonOf } from './storage-errors.js';

describe('quotePostgresIdentifier', () => {
  it('double-quotes names and doubles embedded quotes', () => {
    expect(quotePostgresIdentifier('tenant_alpha')).toBe('"tenant_alpha"');
    expect(quotePostgresIdentifier('alpha.example')).toBe('"alpha.example"');
    expect(quotePostgresIdentifier('x"; drop database postgres; --')).toBe(
      '"x""; drop database postgres; --"',
    );
  });

  it('refuses names PostgreSQL would reject or silently truncate', () => {
    expect(() => quotePostgresIdentifier('')).toThrow(/empty/);
    expect(() => quotePostgresIdentifier('a\0b')).toThrow(/NUL/);
    expect(quotePostgresIdentifier('a'.repeat(63))).toBe(`"${'a'.repeat(63)}"`);
    expect(() => quotePostgresIdentifier('a'.repeat(64))).toThrow(/longer than 63 bytes/);
    // 32 two-byte characters: 32 characters but 64 bytes.
    expect(() => quotePostgresIdentifier('é'.repeat(32))).toThrow(/longer than 63 bytes/);
  });
});

describe('postgresDatabaseUrl', () => {
  it('points the admin URL at another database, keeping credentials and options', () => {
    const url = postgresDatabaseUrl(
      'postgres://marina:pa%40ss@db.internal:5433/postgres?connect_timeout=5',
      'tenant_alpha.example',
    );
    expect(url).toBe(
      'postgres://marina:pa%40ss@db.internal:5433/tenant_alpha.example?connect_timeout=5',
    );
    // pg reads back exactly the database name we meant.
    const client = new pg.Client({ connectionString: url });
    expect(client.database).toBe('tenant_alpha.example');
    expect(client.password).toBe('pa@ss');
  });

  it('keeps names with spaces and non-ASCII letters intact through pg', () => {
    const url = postgresDatabaseUrl('postgres://u@h/postgres', 'tenant é b');
    expect(new pg.Client({ connectionString: url }).database).toBe('tenant é b');
  });

  it('refuses names a URL path cannot carry to pg', () => {
    for (const name of ['a/b', 'a?b', 'a#b', 'a%20b']) {
      expect(() => postgresDatabaseUrl('postgres://u@h/postgres', name)).toThrow(/cannot be used/);
    }
  });
});

describe('redactDatabaseUrl', () => {
  it('hides passwords in the user info and in the query', () => {
    expect(redactDatabaseUrl('postgres://marina:hunter2@db:5432/t')).toBe(
      'postgres://marina:***@db:5432/t',
    );
    expect(redactDatabaseUrl('postgres://db/t?user=marina&password=hunter2')).toBe(
      'postgres://db/t?user=marina&password=***',
    );
    expect(redactDatabaseUrl('postgres://marina@db/t')).toBe('postgres://marina@db/t');
  });

  it('hides the password even in a URL it cannot parse', () => {
    const redacted = redactDatabaseUrl('postgres://marina:hunter2@db:notaport/t');
    expect(redacted).not.toContain('hunter2');
    expect(redacted).toContain('marina:***@');
  });

  it('describes SQLite databases by path', () => {
    expect(describeDatabase({ dialect: 'sqlite', path: '/data/alpha.sqlite' })).toBe(
      'sqlite:/data/alpha.sqlite',
    );
  });
});

describe('reasonOf', () => {
  it('uses the inner errors of an AggregateError with an empty message', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {
      code: 'ECONNREFUSED',
    });
    const refused6 = new Error('connect ECONNREFUSED ::1:1');
    expect(reasonOf(new AggregateError([refused, refused6], ''))).toBe(
      'connect ECONNREFUSED 127.0.0.1:1; connect ECONNREFUSED ::1:1',
    );
  });

  it('blanks out the configured password if a driver message repeats it', () => {
    const config = { dialect: 'postgres', url: 'postgres://marina:hunter2@db/t' } as const;
    expect(reasonOf(new Error('bad password hunter2 for marina'), config)).toBe(
      'bad password *** for marina',
    );
  });
});
