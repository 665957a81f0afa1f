import { readdir, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { openTestDatabaseConfig } from '../../test/helpers/test-database.js';
import type { DatabaseConfig } from './database-config.js';
import { createMigrationProvider, migrationNames } from './migrations/index.js';
import { TenantDatabaseOwnershipError } from './storage-errors.js';
import type { TenantDatabase } from './tenant-database.js';
import { openTenantDatabase } from './tenant-database.js';

/** Tables the tests create for themselves; they are not part of the real schema. */
type TestTables = {
  counter: { id: number; n: number };
  numbers: { id: number; big: number };
};

const dialect = process.env['MARINA_TEST_DIALECT'] === 'postgres' ? 'postgres' : 'sqlite';

function memoryLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { logger, lines };
}

/** Runs SQL on the database behind the tenant's back, as another program would. */
async function rawExec(config: DatabaseConfig, statement: string): Promise<void> {
  if (config.dialect === 'sqlite') {
    const file = new BetterSqlite3(config.path);
    try {
      file.exec(statement);
    } finally {
      file.close();
    }
    return;
  }
  const client = new pg.Client({ connectionString: config.url });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

async function rawTableNames(config: DatabaseConfig): Promise<string[]> {
  if (config.dialect === 'sqlite') {
    const file = new BetterSqlite3(config.path, { readonly: true });
    try {
      const rows = file
        .prepare("select name from sqlite_master where type = 'table' order by name")
        .all() as Array<{ name: string }>;
      return rows.map((row) => row.name);
    } finally {
      file.close();
    }
  }
  const client = new pg.Client({ connectionString: config.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>(
      "select tablename as name from pg_tables where schemaname = 'public' order by tablename",
    );
    return rows.map((row) => row.name);
  } finally {
    await client.end();
  }
}

/** Applies the migrations up to `name` only, as an older Marina would have left the database. */
async function migrateOnlyTo(config: DatabaseConfig, name: string): Promise<void> {
  const db = new Kysely<unknown>({
    dialect:
      config.dialect === 'sqlite'
        ? new SqliteDialect({ database: new BetterSqlite3(config.path) })
        : new PostgresDialect({ pool: new pg.Pool({ connectionString: config.url, max: 1 }) }),
  });
  try {
    const { error } = await new Migrator({ db, provider: createMigrationProvider() }).migrateTo(
      name,
    );
    if (error !== undefined) throw error;
  } finally {
    await db.destroy();
  }
}

/** How many connections the tenant holds: open file descriptors or PostgreSQL backends. */
async function openConnections(config: DatabaseConfig, serverName: string): Promise<number> {
  if (config.dialect === 'sqlite') {
    const fds = await readdir('/proc/self/fd');
    const targets = await Promise.all(
      fds.map((fd) => readlink(join('/proc/self/fd', fd)).catch(() => '')),
    );
    return targets.filter((target) => target === config.path).length;
  }
  const client = new pg.Client({ connectionString: config.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      'select count(*) as n from pg_stat_activity where application_name = $1 and pid <> pg_backend_pid()',
      [`marina ${serverName}`],
    );
    return Number(rows[0]?.n);
  } finally {
    await client.end();
  }
}

/** The error openTenantDatabase fails with (and a test failure if it opens). */
async function openingError(config: DatabaseConfig, logger?: Logger): Promise<Error> {
  const opened = await openTenantDatabase(config, { serverName: 'alpha.example', logger }).catch(
    (error: unknown) => error,
  );
  if (!(opened instanceof Error)) {
    await (opened as TenantDatabase).close();
    throw new Error('expected openTenantDatabase to fail');
  }
  return opened;
}

async function owner(db: TenantDatabase): Promise<string | undefined> {
  const row = await db.read((d) =>
    d.selectFrom('tenant_meta').select('value').where('key', '=', 'server_name').executeTakeFirst(),
  );
  return row?.value;
}

async function metaValue(db: TenantDatabase, key: string): Promise<string | undefined> {
  const row = await db.read((d) =>
    d.selectFrom('tenant_meta').select('value').where('key', '=', key).executeTakeFirst(),
  );
  return row?.value;
}

describe(`tenant database on ${dialect}`, () => {
  // Run in reverse at the end of each test: close databases before deleting them.
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function freshConfig(): Promise<DatabaseConfig> {
    // Empty, not a copy of the migrated template: these tests are about migrating and claiming.
    const { config, cleanup } = await openTestDatabaseConfig({ empty: true });
    cleanups.push(cleanup);
    return config;
  }

  async function open(
    config: DatabaseConfig,
    serverName = 'alpha.example',
    logger?: Logger,
  ): Promise<TenantDatabase> {
    const db = await openTenantDatabase(config, { serverName, logger });
    cleanups.push(() => db.close());
    return db;
  }

  it('applies every migration on first open and none again on reopen', async () => {
    const config = await freshConfig();
    const { logger, lines } = memoryLogger();
    const executedMigrations = (db: TenantDatabase) =>
      db.read(async (d) => {
        const { rows } = await sql<{
          name: string;
        }>`select name from kysely_migration order by name`.execute(d);
        return rows.map((row) => row.name);
      });

    const first = await open(config, 'alpha.example', logger);
    expect(first.dialect).toBe(dialect);
    expect(await executedMigrations(first)).toEqual(migrationNames());
    expect(await rawTableNames(config)).toContain('tenant_meta');
    const migrated = lines.filter((line) => line['msg'] === 'migrated tenant database');
    expect(migrated).toHaveLength(1);
    expect(migrated[0]).toMatchObject({
      server_name: 'alpha.example',
      migrations: migrationNames(),
    });
    await first.close();

    lines.length = 0;
    const second = await open(config, 'alpha.example', logger);
    expect(await executedMigrations(second)).toEqual(migrationNames());
    expect(lines.filter((line) => line['msg'] === 'migrated tenant database')).toEqual([]);
    expect(lines.some((line) => line['msg'] === 'tenant database opened')).toBe(true);
  });

  it('refuses a database migrated by a newer Marina instead of running against it', async () => {
    const config = await freshConfig();
    const db = await open(config);
    await db.close();
    await rawExec(
      config,
      "insert into kysely_migration (name, timestamp) values ('9999-from-the-future', '2999-01-01T00:00:00.000Z')",
    );
    await expect(openTenantDatabase(config, { serverName: 'alpha.example' })).rejects.toThrow(
      /^cannot migrate tenant database .*: corrupted migrations: previously executed migration 9999-from-the-future is missing/,
    );
  });

  it('applies the missing migrations to a database an older Marina left behind', async () => {
    const config = await freshConfig();
    const [oldest, ...missing] = migrationNames();
    await migrateOnlyTo(config, oldest!);
    const { logger, lines } = memoryLogger();

    const db = await open(config, 'alpha.example', logger);
    const migrated = lines.filter((line) => line['msg'] === 'migrated tenant database');
    expect(migrated).toHaveLength(1);
    expect(migrated[0]).toMatchObject({ migrations: missing });
    const names = await db.read(async (d) => {
      const { rows } = await sql<{ name: string }>`select name from kysely_migration`.execute(d);
      return rows.map((row) => row.name).sort();
    });
    expect(names).toEqual(migrationNames());
    expect(await owner(db)).toBe('alpha.example');
  });

  it('claims a database that is at the latest migration but was never claimed', async () => {
    const config = await freshConfig();
    await migrateOnlyTo(config, migrationNames().at(-1)!);
    const db = await open(config, 'alpha.example');
    expect(await owner(db)).toBe('alpha.example');
    await db.close();
    await expect(openTenantDatabase(config, { serverName: 'beta.example' })).rejects.toThrow(
      /belongs to alpha\.example/,
    );
  });

  it('claims a new database for its server_name', async () => {
    const config = await freshConfig();
    const db = await open(config, 'alpha.example');
    expect(db.serverName).toBe('alpha.example');
    expect(await owner(db)).toBe('alpha.example');
  });

  it("refuses to open another tenant's database, naming both tenants", async () => {
    const config = await freshConfig();
    const alpha = await open(config, 'alpha.example');

    const refusal = openTenantDatabase(config, { serverName: 'beta.example' });
    await expect(refusal).rejects.toThrow(/beta\.example.*belongs to alpha\.example/);
    await expect(refusal).rejects.toBeInstanceOf(TenantDatabaseOwnershipError);
    await expect(refusal).rejects.toMatchObject({
      serverName: 'beta.example',
      ownerServerName: 'alpha.example',
    });

    // The refusal changed nothing: the owner can still use and reopen it.
    expect(await owner(alpha)).toBe('alpha.example');
    await alpha.close();
    const reopened = await open(config, 'alpha.example');
    expect(await owner(reopened)).toBe('alpha.example');
  });

  it('refuses a database holding tables Marina did not create, without touching it', async () => {
    const config = await freshConfig();
    await rawExec(config, 'create table users (name text)');

    await expect(openTenantDatabase(config, { serverName: 'alpha.example' })).rejects.toThrow(
      /refusing to open .* for alpha\.example: it already holds tables that Marina did not create/,
    );
    expect(await rawTableNames(config)).toEqual(['users']);
  });

  it('agrees on one owner when two tenants race to claim the same new database', async () => {
    const config = await freshConfig();
    const attempts = await Promise.allSettled([
      openTenantDatabase(config, { serverName: 'alpha.example' }),
      openTenantDatabase(config, { serverName: 'beta.example' }),
    ]);
    const opened = attempts.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []));
    const refused = attempts.flatMap((a) => (a.status === 'rejected' ? [a.reason] : []));
    for (const db of opened) cleanups.push(() => db.close());

    expect(opened).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toBeInstanceOf(TenantDatabaseOwnershipError);
    expect(await owner(opened[0]!)).toBe(opened[0]!.serverName);
  });

  it('lets the same tenant open its database twice at once, migrating it once', async () => {
    const config = await freshConfig();
    const [a, b] = await Promise.all([open(config), open(config)]);
    await a.transact((trx) =>
      trx.insertInto('tenant_meta').values({ key: 'k', value: 'v' }).execute(),
    );
    expect(await metaValue(b, 'k')).toBe('v');
    const names = await b.read(async (d) => {
      const { rows } = await sql<{ name: string }>`select name from kysely_migration`.execute(d);
      return rows.map((row) => row.name).sort();
    });
    expect(names).toEqual(migrationNames());
  });

  it('round-trips data through transact and read', async () => {
    const db = await open(await freshConfig());
    const result = await db.transact(async (trx) => {
      await trx
        .insertInto('tenant_meta')
        .values([
          { key: 'colour', value: 'blue' },
          { key: 'shape', value: 'round' },
        ])
        .execute();
      return 'committed';
    });
    expect(result).toBe('committed');
    const rows = await db.read((d) =>
      d
        .selectFrom('tenant_meta')
        .selectAll()
        .where('key', 'in', ['colour', 'shape'])
        .orderBy('key')
        .execute(),
    );
    expect(rows).toEqual([
      { key: 'colour', value: 'blue' },
      { key: 'shape', value: 'round' },
    ]);
  });

  it('rolls a throwing transaction back completely, schema changes included', async () => {
    const config = await freshConfig();
    const db = await open(config);
    const boom = new Error('boom');

    await expect(
      db.transact(async (trx) => {
        await trx.schema.createTable('scratch').addColumn('id', 'integer').execute();
        await trx.insertInto('tenant_meta').values({ key: 'half', value: 'written' }).execute();
        await trx
          .updateTable('tenant_meta')
          .set({ value: 'hijacked.example' })
          .where('key', '=', 'server_name')
          .execute();
        throw boom;
      }),
    ).rejects.toBe(boom);

    // A failing statement (duplicate key) after a successful one also undoes both.
    await expect(
      db.transact(async (trx) => {
        await trx.insertInto('tenant_meta').values({ key: 'first', value: '1' }).execute();
        await trx.insertInto('tenant_meta').values({ key: 'server_name', value: 'x' }).execute();
      }),
    ).rejects.toThrow();

    const rows = await db.read((d) => d.selectFrom('tenant_meta').selectAll().execute());
    expect(rows).toEqual([{ key: 'server_name', value: 'alpha.example' }]);
    expect(await rawTableNames(config)).not.toContain('scratch');
    // The connection is usable again after the rollbacks.
    await db.transact((trx) =>
      trx.insertInto('tenant_meta').values({ key: 'after', value: 'ok' }).execute(),
    );
    expect(await metaValue(db, 'after')).toBe('ok');
  });

  it('runs concurrent read-modify-write transactions without losing an update', async () => {
    const db = await open(await freshConfig());
    await db.transact(async (trx) => {
      await trx.schema
        .createTable('counter')
        .addColumn('id', 'integer', (col) => col.primaryKey())
        .addColumn('n', 'integer', (col) => col.notNull())
        .execute();
      await trx.withTables<TestTables>().insertInto('counter').values({ id: 1, n: 0 }).execute();
    });

    const seen = await Promise.all(
      Array.from({ length: 20 }, () =>
        db.transact(async (trx) => {
          const t = trx.withTables<TestTables>();
          const { n } = await t
            .selectFrom('counter')
            .select('n')
            .where('id', '=', 1)
            // SQLite serialises whole transactions; PostgreSQL needs the row lock.
            .$if(db.dialect === 'postgres', (qb) => qb.forUpdate())
            .executeTakeFirstOrThrow();
          // Yield between read and write: interleaved transactions would lose updates here.
          await delay(2);
          await t
            .updateTable('counter')
            .set({ n: n + 1 })
            .where('id', '=', 1)
            .execute();
          return n;
        }),
      ),
    );

    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    const final = await db.read((d) =>
      d.withTables<TestTables>().selectFrom('counter').select('n').executeTakeFirstOrThrow(),
    );
    expect(final.n).toBe(20);
  });

  it('keeps uncommitted writes invisible to reads and refuses a nested transact', async () => {
    const db = await open(await freshConfig());
    await db.transact(async (trx) => {
      await trx.insertInto('tenant_meta').values({ key: 'pending', value: 'yes' }).execute();
      // read() from inside a transaction works (no deadlock) and sees only committed data.
      expect(await metaValue(db, 'pending')).toBeUndefined();
      await expect(db.transact(async () => 'nested')).rejects.toThrow(/inside a transaction/);
    });
    expect(await metaValue(db, 'pending')).toBe('yes');
    // Once the transaction is over, transact() works again from the same async context.
    expect(await db.transact(async () => 'fine')).toBe('fine');
  });

  it('returns bigint columns, counts and sums as numbers', async () => {
    const db = await open(await freshConfig());
    const values = [2 ** 53 - 1, 2 ** 40 + 1, -(2 ** 45)];
    await db.transact(async (trx) => {
      await trx.schema
        .createTable('numbers')
        .addColumn('id', 'bigint', (col) => col.primaryKey())
        .addColumn('big', 'bigint', (col) => col.notNull())
        .execute();
      await trx
        .withTables<TestTables>()
        .insertInto('numbers')
        .values(values.map((big, i) => ({ id: 2 ** 33 + i, big })))
        .execute();
    });

    const rows = await db.read((d) =>
      d.withTables<TestTables>().selectFrom('numbers').selectAll().orderBy('id').execute(),
    );
    expect(rows).toEqual(values.map((big, i) => ({ id: 2 ** 33 + i, big })));
    for (const row of rows) {
      expect(typeof row.id).toBe('number');
      expect(typeof row.big).toBe('number');
    }

    const aggregates = await db.read((d) =>
      d
        .withTables<TestTables>()
        .selectFrom('numbers')
        .select((eb) => [
          eb.fn.countAll<number>().as('count'),
          eb.fn.sum<number>('big').as('sum'),
          eb.fn.max<number>('big').as('max'),
        ])
        .executeTakeFirstOrThrow(),
    );
    expect(aggregates).toEqual({
      count: 3,
      sum: values.reduce((a, b) => a + b, 0),
      max: 2 ** 53 - 1,
    });
    // The parsers belong to the tenant's pool: pg's process-wide defaults are untouched.
    expect(pg.types.getTypeParser(20, 'text')('42')).toBe('42');
  });

  it('keeps data across close and reopen; close is idempotent and frees connections', async () => {
    const config = await freshConfig();
    const db = await open(config);
    await db.transact((trx) =>
      trx.insertInto('tenant_meta').values({ key: 'kept', value: 'yes' }).execute(),
    );
    expect(await openConnections(config, 'alpha.example')).toBeGreaterThan(0);

    await db.close();
    await db.close();
    await expect(db.read((d) => d.selectFrom('tenant_meta').selectAll().execute())).rejects.toThrow(
      /is closed/,
    );
    await expect.poll(() => openConnections(config, 'alpha.example')).toBe(0);

    const reopened = await open(config);
    expect(await metaValue(reopened, 'kept')).toBe('yes');
  });

  it('lets work in progress finish before close() frees the connections', async () => {
    const config = await freshConfig();
    const db = await open(config);
    const pending = db.transact(async (trx) => {
      await delay(50);
      await trx.insertInto('tenant_meta').values({ key: 'late', value: 'written' }).execute();
      return 'done';
    });
    const closing = db.close();
    await expect(db.read(async () => 'new work')).rejects.toThrow(/is closed/);
    await expect(pending).resolves.toBe('done');
    await closing;

    const reopened = await open(config);
    expect(await metaValue(reopened, 'late')).toBe('written');
  });

  it("keeps two tenants' databases independent", async () => {
    const alpha = await open(await freshConfig(), 'alpha.example');
    const beta = await open(await freshConfig(), 'beta.example');
    await Promise.all([
      alpha.transact((trx) =>
        trx.insertInto('tenant_meta').values({ key: 'colour', value: 'red' }).execute(),
      ),
      beta.transact((trx) =>
        trx.insertInto('tenant_meta').values({ key: 'colour', value: 'blue' }).execute(),
      ),
    ]);
    await alpha.transact((trx) =>
      trx.insertInto('tenant_meta').values({ key: 'only-alpha', value: '1' }).execute(),
    );

    expect(await metaValue(alpha, 'colour')).toBe('red');
    expect(await metaValue(beta, 'colour')).toBe('blue');
    expect(await metaValue(beta, 'only-alpha')).toBeUndefined();
    expect(await owner(alpha)).toBe('alpha.example');
    expect(await owner(beta)).toBe('beta.example');
  });

  it('reports a database it cannot open clearly, never showing a password', async () => {
    const { logger, lines } = memoryLogger();
    if (dialect === 'sqlite') {
      const config = await freshConfig();
      if (config.dialect !== 'sqlite') throw new Error('unreachable');
      await writeFile(config.path, 'this is not a database, just some text that is long enough');
      await expect(
        openTenantDatabase(config, { serverName: 'alpha.example', logger }),
      ).rejects.toThrow(
        `cannot open tenant database sqlite:${config.path}: file is not a database`,
      );
      // A parent "directory" that is a file.
      const nested = { dialect: 'sqlite', path: join(config.path, 'tenant.sqlite') } as const;
      await expect(openTenantDatabase(nested, { serverName: 'alpha.example' })).rejects.toThrow(
        new RegExp(`^cannot open tenant database sqlite:${nested.path}: .*(ENOTDIR|EEXIST)`),
      );
    } else {
      const config = await freshConfig();
      if (config.dialect !== 'postgres') throw new Error('unreachable');
      const secret = 'S3cret-Pa55word';
      // A server that is there, a database that is not.
      const missing = new URL(config.url);
      missing.username = 'postgres';
      missing.password = secret;
      missing.pathname = '/no_such_database';
      const error = await openingError({ dialect: 'postgres', url: missing.toString() }, logger);
      expect(error.message).toMatch(
        /^cannot open tenant database postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/no_such_database: database "no_such_database" does not exist$/,
      );
      expect(error.message).not.toContain(secret);

      // Nothing listening at all.
      const refused = await openingError(
        { dialect: 'postgres', url: `postgres://marina:${secret}@127.0.0.1:1/tenant` },
        logger,
      );
      expect(refused.message).toMatch(
        /^cannot open tenant database postgres:\/\/marina:\*\*\*@127\.0\.0\.1:1\/tenant: .*ECONNREFUSED/,
      );
      expect(refused.message).not.toContain(secret);
    }
    expect(JSON.stringify(lines)).not.toContain('S3cret');
  });
});
