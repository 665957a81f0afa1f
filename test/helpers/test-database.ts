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

export interface TestDatabaseConfig {
  config: DatabaseConfig;
  /** Deletes the database (file or PostgreSQL database); close it first. */
  cleanup(): Promise<void>;
}

/**
 * A fresh, empty database for one test, of the dialect the current vitest project runs
 * (MARINA_TEST_DIALECT, set by vitest.config.ts): a file in a new temp dir for SQLite, a new
 * database on the run's PostgreSQL server for PostgreSQL.
 */
export async function openTestDatabaseConfig(): Promise<TestDatabaseConfig> {
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
    await createPostgresDatabase(adminUrl, name);
    return {
      config: { dialect: 'postgres', url: postgresDatabaseUrl(adminUrl, name) },
      cleanup: () => dropPostgresDatabase(adminUrl, name),
    };
  }
  throw new Error(
    `MARINA_TEST_DIALECT must be "sqlite" or "postgres", not ${JSON.stringify(dialect)}`,
  );
}
