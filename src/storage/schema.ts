/**
 * The tenant database schema as kysely sees it: one interface per table, kept in step with
 * `migrations/`. Migrations themselves use an untyped `Kysely<unknown>` because they describe
 * the schema at their own point in history, not this one.
 */

/** Facts about the database itself, e.g. `server_name`: which tenant owns it. */
export interface TenantMetaTable {
  key: string;
  value: string;
}

export interface Database {
  tenant_meta: TenantMetaTable;
}
