import { randomBytes } from 'node:crypto';
import pg from 'pg';
import {
  createPostgresDatabase,
  dropPostgresDatabase,
  postgresDatabaseUrl,
  quotePostgresIdentifier,
} from '../../src/storage/postgres-admin.js';
import { openTenantDatabase } from '../../src/storage/tenant-database.js';

/**
 * A migrated template for PostgreSQL test databases. Migrating a new database costs 0.2–0.8 s,
 * and storage tests create one per test; copying a template that was migrated once per run
 * (`CREATE DATABASE … TEMPLATE`) costs a fraction of that. The template belongs to no tenant:
 * its `server_name` claim is deleted after migrating, so each copy is claimed by whichever
 * server name its test opens it with, exactly as a new database would be.
 */

/** Creates and migrates an unclaimed template database; returns its name. */
export async function createMigratedTemplate(adminUrl: string): Promise<string> {
  // Unique per run: a shared server (MARINA_TEST_PG_URL) may serve several runs, of different
  // versions of the migrations, at once.
  const name = `marina_test_template_${randomBytes(6).toString('hex')}`;
  await createPostgresDatabase(adminUrl, name);
  try {
    const url = postgresDatabaseUrl(adminUrl, name);
    const db = await openTenantDatabase(
      { dialect: 'postgres', url },
      { serverName: 'template.invalid' },
    );
    await db.transact((trx) =>
      trx.deleteFrom('tenant_meta').where('key', '=', 'server_name').execute(),
    );
    // Copying needs the template to have no connection left.
    await db.close();
  } catch (error) {
    await dropPostgresDatabase(adminUrl, name).catch(() => {});
    throw error;
  }
  return name;
}

/** Creates database `name` as a copy of `template` (encoding and `C` collation included). */
export async function createDatabaseFromTemplate(
  adminUrl: string,
  name: string,
  template: string,
): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query(
      `create database ${quotePostgresIdentifier(name)} template ${quotePostgresIdentifier(template)}`,
    );
  } finally {
    await client.end().catch(() => {});
  }
}
