import type { DatabaseConnection, DialectAdapter, Driver, SqliteDialectConfig } from 'kysely';
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
