import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import type { DatabaseConfig } from '../../src/storage/database-config.js';
import {
  createPostgresDatabase,
  dropPostgresDatabase,
  postgresDatabaseUrl,
} from '../../src/storage/postgres-admin.js';
import { createDatabaseFromTemplate } from './postgres-template.js';

export interface TestDatabaseConfig {
  config: DatabaseConfig;
  /** Deletes the database (file or PostgreSQL database); close it first. */
  cleanup(): Promise<void>;
}

export interface TestDatabaseOptions {
  /**
   * A database with no tables at all, for tests of opening and migrating itself. Otherwise, on
   * PostgreSQL, the database is a copy of the run's migrated template (see postgres-template.ts):
   * no data and no owner, like a new one, but opening it only claims it.
   */
  empty?: boolean;
}

/**
 * A fresh database for one test, with no data and no owner, of the dialect the current vitest
 * project runs (MARINA_TEST_DIALECT, set by vitest.config.ts): a file in a new temp dir for
 * SQLite, a new database on the run's PostgreSQL server for PostgreSQL.
 */
export async function openTestDatabaseConfig(
  options: TestDatabaseOptions = {},
): Promise<TestDatabaseConfig> {
  const dialect = process.env['MARINA_TEST_DIALECT'] ?? 'sqlite';
  if (dialect === 'sqlite') {
    const dir = await mkdtemp(join(tmpdir(), 'marina-test-db-'));
    return {
      config: { dialect: 'sqlite', path: join(dir, 'tenant.sqlite') },
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  }
  if (dialect === 'postgres') {
    const adminUrl = inject('pgUrl');
    const name = `marina_test_${randomBytes(8).toString('hex')}`;
    if (options.empty) await createPostgresDatabase(adminUrl, name);
    else await createDatabaseFromTemplate(adminUrl, name, inject('pgTemplateDatabase'));
    return {
      config: { dialect: 'postgres', url: postgresDatabaseUrl(adminUrl, name) },
      cleanup: () => dropPostgresDatabase(adminUrl, name),
    };
  }
  throw new Error(
    `MARINA_TEST_DIALECT must be "sqlite" or "postgres", not ${JSON.stringify(dialect)}`,
  );
}
