import type {
  DatabaseConnection,
  DialectAdapter,
  Driver,
  SqliteDatabase,
  SqliteDialectConfig,
  SqliteStatement,
} from 'kysely';
import { CompiledQuery, SqliteAdapter, SqliteDialect, SqliteDriver } from 'kysely';

/**
 * Kysely's SQLite dialect with two changes that matter when more than one connection (another
 * TenantDatabase, another process) may touch the same file:
 *
 * - transactions start with `BEGIN IMMEDIATE`, taking the write lock up front, so a second
 *   writer waits for `busy_timeout` instead of failing with SQLITE_BUSY when a deferred
 *   transaction tries to upgrade from reading to writing;
 * - migrations run inside a transaction (SQLite does support transactional DDL, kysely's adapter
 *   just says it doesn't), so a failed migration leaves nothing half-applied and two openers
 *   racing each other apply each migration exactly once.
 */
export class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }

  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

/** Prepared statements kept per SQLite connection. */
const STATEMENT_CACHE_SIZE = 512;

/**
 * A SQLite connection for kysely that keeps its prepared statements: kysely's driver prepares
 * every query anew, which costs more than running most of them. The cache belongs to the
 * connection (one tenant's handle) and is dropped with it; the least recently used statement
 * goes first. Safe because kysely runs one statement at a time per connection and Marina
 * never streams query results (`iterate` would hold a statement busy).
 */
export function withStatementCache(
  database: SqliteDatabase,
  capacity = STATEMENT_CACHE_SIZE,
): SqliteDatabase {
  const statements = new Map<string, SqliteStatement>();
  return {
    close: () => {
      statements.clear();
      database.close();
    },
    prepare: (sql) => {
      const cached = statements.get(sql);
      if (cached !== undefined) {
        // Re-insert to mark it most recently used (a Map iterates in insertion order).
        statements.delete(sql);
        statements.set(sql, cached);
        return cached;
      }
      const statement = database.prepare(sql);
      statements.set(sql, statement);
      if (statements.size > capacity) {
        const oldest = statements.keys().next().value;
        if (oldest !== undefined) statements.delete(oldest);
      }
      return statement;
    },
  };
}
