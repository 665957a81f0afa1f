import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Transaction } from 'kysely';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import type { DatabaseConfig, Dialect } from './database-config.js';
import { describeDatabase } from './database-config.js';
import { createMigrationProvider, migrationNames } from './migrations/index.js';
import type { Database } from './schema.js';
import { ImmediateSqliteDialect, withStatementCache } from './sqlite-dialect.js';
import type { WalCheckpointer } from './wal-checkpointer.js';
import {
  TenantDatabaseError,
  TenantDatabaseOwnershipError,
  databaseError,
  reasonOf,
} from './storage-errors.js';

/** How long a SQLite statement waits for another connection's lock before failing. */
const SQLITE_BUSY_TIMEOUT_MS = 5_000;
/**
 * SQLite page cache per connection, in KiB (negative `cache_size`): 512 KiB rather than
 * SQLite's default of 2,000 KiB, because a shard keeps hundreds of tenants awake, each with
 * two connections.
 */
const SQLITE_CACHE_KIB = 512;
/** With a checkpointer, a checkpoint is asked for after this many commits (~1,000 WAL pages). */
const COMMITS_PER_CHECKPOINT = 100;
/** With a checkpointer, SQLite still checkpoints by itself past this many WAL pages (~40 MB). */
const SAFETY_NET_CHECKPOINT_PAGES = 10_000;
/** Per-tenant PostgreSQL pools stay small: a shard hosts hundreds of tenants. */
const DEFAULT_POSTGRES_MAX_CONNECTIONS = 4;
/** Idle PostgreSQL connections are closed after this long, so quiet tenants hold none. */
const POSTGRES_IDLE_TIMEOUT_MS = 10_000;
/** Bounds both connecting and waiting for a free pooled connection. */
const POSTGRES_CONNECT_TIMEOUT_MS = 10_000;
/** PostgreSQL truncates longer application names. */
const POSTGRES_APPLICATION_NAME_MAX = 63;

const SERVER_NAME_KEY = 'server_name';
const MIGRATION_TABLE = 'kysely_migration';

export interface OpenTenantDatabaseOptions {
  /** The tenant that owns (or is about to claim) the database. */
  serverName: string;
  logger?: Logger;
  /** SQLite: checkpoint the WAL on this worker rather than inside commits (see WalCheckpointer). */
  walCheckpointer?: WalCheckpointer;
  /**
   * Refuse `transact` nested in a transaction, and let work in progress start more work while
   * closing (see `TenantDatabase`). It tracks scopes with AsyncLocalStorage, which on Node 20
   * makes every promise of the process slower (~10% of a request's CPU): on in tests, off in
   * production. Default: on when the environment sets MARINA_DB_SCOPE_CHECKS=1.
   */
  scopeChecks?: boolean;
}

/**
 * One tenant's database, migrated and claimed. Queries go through `read` and `transact` so that
 * `close()` can wait for work in progress before freeing connections.
 */
export interface TenantDatabase {
  readonly dialect: Dialect;
  readonly serverName: string;
  /**
   * Runs queries outside a transaction. Each statement sees the latest committed data (on SQLite
   * through a separate read-only connection, so reads never queue behind a transaction); use
   * `transact` for a consistent view across several statements.
   */
  read<T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` in one transaction: committed when it resolves, rolled back entirely when it
   * throws (the error is rethrown). On SQLite transactions run one at a time; on PostgreSQL they
   * run concurrently at READ COMMITTED, so lock what you read-modify-write (`.forUpdate()`) or
   * update atomically (`set n = n + 1`). Never call `transact` again from inside `fn` (it would
   * deadlock): use `trx`. With scope checks on (tests), such a call is refused with an error.
   */
  transact<T>(fn: (trx: Transaction<Database>) => Promise<T>): Promise<T>;
  /**
   * Waits for reads and transactions in progress, then frees connections; new work is refused
   * (with scope checks on, work started by work in progress is still let through). Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Connects to a tenant's database, applies pending migrations and claims the database for
 * `options.serverName`; refuses a database that belongs to another tenant.
 */
export async function openTenantDatabase(
  config: DatabaseConfig,
  options: OpenTenantDatabaseOptions,
): Promise<TenantDatabase> {
  const { serverName } = options;
  if (serverName === '') throw new TenantDatabaseError('a tenant database needs a server_name');
  const log = options.logger ? withServerName(options.logger, serverName) : undefined;
  const where = describeDatabase(config);

  let connections: Connections;
  try {
    connections =
      config.dialect === 'sqlite'
        ? await connectSqlite(config.path, log, options.walCheckpointer)
        : connectPostgres(config, serverName, log);
  } catch (error) {
    throw databaseError('open', config, error);
  }

  try {
    await prepare(connections.writer, config, serverName, log);
  } catch (error) {
    await connections.destroy().catch(() => {});
    throw error instanceof TenantDatabaseError ? error : databaseError('open', config, error);
  }
  log?.debug({ database: where, dialect: config.dialect }, 'tenant database opened');
  const scopeChecks = options.scopeChecks ?? process.env['MARINA_DB_SCOPE_CHECKS'] === '1';
  return new OpenTenantDatabase(config.dialect, serverName, where, connections, log, scopeChecks);
}

/** Which connection serves reads and which serves transactions (the same one on PostgreSQL). */
interface Connections {
  writer: Kysely<Database>;
  reader: Kysely<Database>;
  /** Called after each committed transaction. */
  committed?: () => void;
  destroy(): Promise<void>;
}

async function connectSqlite(
  path: string,
  log: Logger | undefined,
  checkpointer: WalCheckpointer | undefined,
): Promise<Connections> {
  if (path === '' || path === ':memory:' || path.startsWith('file:')) {
    throw new Error('a tenant database must be a plain file path (it has to outlive the process)');
  }
  await mkdir(dirname(resolve(path)), { recursive: true });
  const files: BetterSqlite3.Database[] = [];
  const closeFiles = () => {
    for (const file of files) if (file.open) file.close();
  };
  try {
    const writerFile = new BetterSqlite3(path, { timeout: SQLITE_BUSY_TIMEOUT_MS });
    files.push(writerFile);
    // WAL lets the read connection see committed data while a transaction is in progress;
    // with WAL, synchronous=NORMAL is still crash-safe (a power cut may lose the last commits).
    const journalMode: unknown = writerFile.pragma('journal_mode = WAL', { simple: true });
    if (journalMode !== 'wal') {
      log?.warn(
        { path, journalMode },
        'SQLite refused WAL journal mode; reads will wait on writes',
      );
    }
    writerFile.pragma('synchronous = NORMAL');
    writerFile.pragma('foreign_keys = ON');
    writerFile.pragma(`cache_size = -${SQLITE_CACHE_KIB}`);
    if (checkpointer !== undefined) {
      writerFile.pragma(`wal_autocheckpoint = ${SAFETY_NET_CHECKPOINT_PAGES}`);
    }

    const readerFile = new BetterSqlite3(path, { timeout: SQLITE_BUSY_TIMEOUT_MS });
    files.push(readerFile);
    // query_only rather than `readonly: true`: a read-only handle cannot recover a WAL file.
    readerFile.pragma('query_only = ON');
    readerFile.pragma('foreign_keys = ON');
    readerFile.pragma(`cache_size = -${SQLITE_CACHE_KIB}`);

    const writer = new Kysely<Database>({
      dialect: new ImmediateSqliteDialect({ database: withStatementCache(writerFile) }),
    });
    const reader = new Kysely<Database>({
      dialect: new SqliteDialect({ database: withStatementCache(readerFile) }),
    });
    let commits = 0;
    const absolutePath = resolve(path);
    return {
      writer,
      reader,
      committed:
        checkpointer === undefined
          ? undefined
          : () => {
              commits += 1;
              if (commits % COMMITS_PER_CHECKPOINT === 0) checkpointer.request(absolutePath);
            },
      destroy: async () => {
        await Promise.allSettled([reader.destroy(), writer.destroy()]);
        // Kysely only closes a handle it has used; close the others too.
        closeFiles();
      },
    };
  } catch (error) {
    closeFiles();
    throw error;
  }
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;

function parseInt8(value: string): number {
  const parsed = Number(value);
  // Refuse rather than silently round: ids and stream positions must be exact.
  if (!Number.isSafeInteger(parsed)) throw new RangeError(`int8 ${value} does not fit a number`);
  return parsed;
}

function parseNumeric(value: string): number {
  const parsed = Number(value);
  if (/^-?\d+$/.test(value) && !Number.isSafeInteger(parsed)) {
    throw new RangeError(`numeric ${value} does not fit a number`);
  }
  return parsed;
}

/**
 * pg returns int8 (`bigint`, `count(*)`) and numeric (`sum(bigint)`) as strings. These parsers
 * make them numbers for our pools only: `pg.types.setTypeParser` would change every pg user in
 * the process.
 */
const numberTypeParsers: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (format !== 'binary' && oid === INT8_OID) return parseInt8;
    if (format !== 'binary' && oid === NUMERIC_OID) return parseNumeric;
    return pg.types.getTypeParser(oid, format as 'text');
  }) as typeof pg.types.getTypeParser,
};

function connectPostgres(
  config: Extract<DatabaseConfig, { dialect: 'postgres' }>,
  serverName: string,
  log: Logger | undefined,
): Connections {
  const max = config.maxConnections ?? DEFAULT_POSTGRES_MAX_CONNECTIONS;
  if (!Number.isInteger(max) || max < 1) {
    throw new Error(`maxConnections must be a positive integer, not ${max}`);
  }
  // pg pools connect lazily: a tenant that does nothing holds no connection.
  const pool = new pg.Pool({
    connectionString: config.url,
    max,
    idleTimeoutMillis: POSTGRES_IDLE_TIMEOUT_MS,
    connectionTimeoutMillis: POSTGRES_CONNECT_TIMEOUT_MS,
    application_name: `marina ${serverName}`.slice(0, POSTGRES_APPLICATION_NAME_MAX),
    types: numberTypeParsers,
  });
  // An idle connection can die (server restart, database dropped); without a listener the
  // 'error' event would crash the whole shard. The next query reports the problem itself.
  pool.on('error', (error) => {
    log?.warn(
      { database: describeDatabase(config), reason: reasonOf(error, config) },
      'idle PostgreSQL connection failed',
    );
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    writer: db,
    reader: db,
    destroy: async () => {
      await db.destroy();
      // Kysely only ends a pool it has used.
      if (!pool.ending && !pool.ended) await pool.end();
    },
  };
}

/** Checks ownership, migrates, then claims: a foreign database is refused before it is touched. */
async function prepare(
  db: Kysely<Database>,
  config: DatabaseConfig,
  serverName: string,
  log: Logger | undefined,
): Promise<void> {
  const where = describeDatabase(config);
  // Every wake-up of a tenant opens its database, almost always at the latest migration
  // already: then one query tells so, and the table introspection and the migrator (which
  // creates and locks its own tables: ~3 ms of a ~6 ms start on SQLite) are skipped.
  if (await atLatestMigration(db)) {
    const owner = await readOwner(db);
    assertOwner(owner, serverName, where);
    if (owner === serverName) return;
  } else {
    await migrate(db, config, serverName, log);
  }

  // Insert-if-absent then re-read, in one transaction: two openers racing agree on one owner.
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('tenant_meta')
      .values({ key: SERVER_NAME_KEY, value: serverName })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
    assertOwner(await readOwner(trx), serverName, where);
  });
}

/**
 * Whether the database records exactly the migrations this code has, neither fewer nor others
 * (a newer Marina's): then it is a Marina database with nothing to apply. False when it has no
 * migration table (a new or foreign database), for the full checks to decide.
 */
async function atLatestMigration(db: Kysely<Database>): Promise<boolean> {
  let applied: string[];
  try {
    const { rows } = await sql<{
      name: string;
    }>`select name from ${sql.table(MIGRATION_TABLE)}`.execute(db);
    applied = rows.map((row) => row.name).sort();
  } catch {
    return false;
  }
  const latest = migrationNames();
  return applied.length === latest.length && applied.every((name, i) => name === latest[i]);
}

/** Refuses a foreign database or another tenant's, then applies pending migrations. */
async function migrate(
  db: Kysely<Database>,
  config: DatabaseConfig,
  serverName: string,
  log: Logger | undefined,
): Promise<void> {
  const where = describeDatabase(config);
  const tables = new Set(
    (await db.introspection.getTables({ withInternalKyselyTables: true })).map((t) => t.name),
  );
  if (tables.size > 0 && !tables.has(MIGRATION_TABLE)) {
    throw new TenantDatabaseOwnershipError(
      `refusing to open ${where} for ${serverName}: it already holds tables that Marina did not create`,
      serverName,
      undefined,
    );
  }
  if (tables.has('tenant_meta')) {
    assertOwner(await readOwner(db), serverName, where);
  }

  const { error, results } = await new Migrator({
    db,
    provider: createMigrationProvider(),
  }).migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((result) => result.status === 'Error')?.migrationName;
    throw databaseError(failed ? `apply migration ${failed} to` : 'migrate', config, error);
  }
  const applied = (results ?? []).map((result) => result.migrationName);
  if (applied.length > 0)
    log?.info({ database: where, migrations: applied }, 'migrated tenant database');
}

async function readOwner(db: Kysely<Database>): Promise<string | undefined> {
  const row = await db
    .selectFrom('tenant_meta')
    .select('value')
    .where('key', '=', SERVER_NAME_KEY)
    .executeTakeFirst();
  return row?.value;
}

function assertOwner(owner: string | undefined, serverName: string, where: string): void {
  if (owner !== undefined && owner !== serverName) {
    throw new TenantDatabaseOwnershipError(
      `refusing to open ${where} for ${serverName}: it belongs to ${owner}`,
      serverName,
      owner,
    );
  }
}

function withServerName(logger: Logger, serverName: string): Logger {
  // A tenant's logger usually carries server_name already; pino would print it twice.
  return logger.bindings()['server_name'] === undefined
    ? logger.child({ server_name: serverName })
    : logger;
}

/** What the code running inside `read`/`transact` is part of, to spot nesting. */
interface Scope {
  active: boolean;
  inTransaction: boolean;
}

class OpenTenantDatabase implements TenantDatabase {
  readonly dialect: Dialect;
  readonly serverName: string;
  readonly #where: string;
  readonly #connections: Connections;
  readonly #log: Logger | undefined;
  readonly #inflight = new Set<Promise<unknown>>();
  /** Undefined without scope checks. */
  readonly #scopes: AsyncLocalStorage<Scope> | undefined;
  #closing: Promise<void> | undefined;

  constructor(
    dialect: Dialect,
    serverName: string,
    where: string,
    connections: Connections,
    log: Logger | undefined,
    scopeChecks: boolean,
  ) {
    this.#scopes = scopeChecks ? new AsyncLocalStorage<Scope>() : undefined;
    this.dialect = dialect;
    this.serverName = serverName;
    this.#where = where;
    this.#connections = connections;
    this.#log = log;
  }

  read<T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    return this.#run(false, () => fn(this.#connections.reader));
  }

  transact<T>(fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    const parent = this.#scopes?.getStore();
    if (parent?.active && parent.inTransaction) {
      return Promise.reject(
        new TenantDatabaseError(
          `transact() called inside a transaction on ${this.#where}; use the transaction passed to the outer callback`,
        ),
      );
    }
    return this.#run(true, async () => {
      const result = await this.#connections.writer.transaction().execute(fn);
      this.#connections.committed?.();
      return result;
    });
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      // Work started before close() (and anything it starts in turn) runs to completion.
      while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
      await this.#connections.destroy();
      this.#log?.debug({ database: this.#where }, 'tenant database closed');
    })();
    return this.#closing;
  }

  async #run<T>(inTransaction: boolean, op: () => Promise<T>): Promise<T> {
    const parent = this.#scopes?.getStore();
    const nested = parent?.active === true;
    if (this.#closing && !nested) {
      throw new TenantDatabaseError(
        `tenant database ${this.#where} of ${this.serverName} is closed`,
      );
    }
    // The scope is deactivated when the operation ends, so work it left running in the
    // background is not mistaken for nested work later.
    const scope: Scope = {
      active: true,
      inTransaction: inTransaction || (nested && parent.inTransaction),
    };
    const promise = this.#scopes === undefined ? op() : this.#scopes.run(scope, async () => op());
    this.#inflight.add(promise);
    try {
      return await promise;
    } finally {
      scope.active = false;
      this.#inflight.delete(promise);
    }
  }
}
