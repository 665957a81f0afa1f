import type { Kysely, Migration, MigrationProvider } from 'kysely';

/**
 * The registry's own migrations (not the tenant ones of src/storage/migrations): forward only,
 * names never change once released.
 */
const MIGRATIONS: Readonly<Record<string, Migration>> = Object.freeze({
  '0001-registry': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('registry_meta')
        .addColumn('key', 'text', (col) => col.primaryKey().notNull())
        .addColumn('value', 'text', (col) => col.notNull())
        .execute();
      await db.schema
        .createTable('tenants')
        .addColumn('server_name', 'text', (col) => col.primaryKey().notNull())
        .addColumn('hostnames', 'text', (col) => col.notNull())
        .addColumn('shard_id', 'text')
        .addColumn('created_ts', 'integer', (col) => col.notNull())
        .execute();
      await db.schema.createIndex('tenants_by_shard').on('tenants').columns(['shard_id']).execute();
      await db.schema
        .createTable('tenant_hosts')
        .addColumn('host', 'text', (col) => col.primaryKey().notNull())
        .addColumn('server_name', 'text', (col) =>
          col.notNull().references('tenants.server_name').onDelete('cascade'),
        )
        .execute();
      await db.schema
        .createIndex('tenant_hosts_by_tenant')
        .on('tenant_hosts')
        .columns(['server_name'])
        .execute();
      await db.schema
        .createTable('shards')
        .addColumn('id', 'text', (col) => col.primaryKey().notNull())
        .addColumn('admin_url', 'text')
        .addColumn('traffic_url', 'text')
        .addColumn('pid', 'integer')
        .addColumn('state', 'text', (col) => col.notNull())
        .addColumn('updated_ts', 'integer', (col) => col.notNull())
        .execute();
    },
  },
  // Issue 5: shards come and go with their Marina version; a tenant being moved names its target.
  '0002-mobility': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .alterTable('shards')
        .addColumn('version', 'text', (col) => col.notNull().defaultTo(''))
        .execute();
      await db.schema.alterTable('tenants').addColumn('moving_to', 'text').execute();
    },
  },
  // Shards may outlive their controller: the next one needs the admin token to adopt them.
  '0003-shard-tokens': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('shards').addColumn('admin_token', 'text').execute();
    },
  },
});

export function registryMigrationProvider(): MigrationProvider {
  return { getMigrations: () => Promise.resolve({ ...MIGRATIONS }) };
}
