import { sql } from 'kysely';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { migrationNames } from '../src/storage/migrations/index.js';
import { openTenantDatabase, type TenantDatabase } from '../src/storage/tenant-database.js';
import { openTestDatabaseConfig } from './helpers/test-database.js';

const dialect = process.env['MARINA_TEST_DIALECT'] === 'postgres' ? 'postgres' : 'sqlite';

/**
 * The test databases themselves: on PostgreSQL they are copies of a migrated template, and must
 * behave as new databases would, each its own and claimed by whoever opens it first.
 */
describe(`test databases on ${dialect}`, () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function openFresh(
    serverName: string,
    options: { empty?: boolean } = {},
  ): Promise<{ db: TenantDatabase; migratedOnOpen: boolean }> {
    const { config, cleanup } = await openTestDatabaseConfig(options);
    cleanups.push(cleanup);
    const messages: string[] = [];
    const logger = pino(
      { level: 'info' },
      { write: (line: string) => void messages.push(String(JSON.parse(line).msg)) },
    );
    const db = await openTenantDatabase(config, { serverName, logger });
    cleanups.push(() => db.close());
    return { db, migratedOnOpen: messages.includes('migrated tenant database') };
  }

  const owner = (db: TenantDatabase) =>
    db.read(async (d) => {
      const rows = await d.selectFrom('tenant_meta').select(['key', 'value']).execute();
      return rows;
    });

  const appliedMigrations = (db: TenantDatabase) =>
    db.read(async (d) => {
      const { rows } = await sql<{
        name: string;
      }>`select name from kysely_migration order by name`.execute(d);
      return rows.map((row) => row.name);
    });

  it('are fully migrated, hold no data, and belong to whoever opens them', async () => {
    const alpha = await openFresh('alpha.example');
    const beta = await openFresh('beta.example');
    // On PostgreSQL the migrations ran once, on the template; SQLite files migrate on open.
    expect(alpha.migratedOnOpen).toBe(dialect === 'sqlite');
    for (const { db } of [alpha, beta]) {
      expect(await appliedMigrations(db)).toEqual(migrationNames());
      const users = await db.read((d) => d.selectFrom('users').select('user_id').execute());
      expect(users).toEqual([]);
    }
    expect(await owner(alpha.db)).toEqual([{ key: 'server_name', value: 'alpha.example' }]);
    expect(await owner(beta.db)).toEqual([{ key: 'server_name', value: 'beta.example' }]);
  });

  it('are separate databases', async () => {
    const first = await openFresh('alpha.example');
    await first.db.transact((trx) =>
      trx.insertInto('tenant_meta').values({ key: 'written', value: 'here' }).execute(),
    );
    const second = await openFresh('alpha.example');
    expect(await owner(second.db)).toEqual([{ key: 'server_name', value: 'alpha.example' }]);
  });

  it('can be empty, for tests of migrating itself', async () => {
    const empty = await openFresh('alpha.example', { empty: true });
    expect(empty.migratedOnOpen).toBe(true);
    expect(await appliedMigrations(empty.db)).toEqual(migrationNames());
  });
});
