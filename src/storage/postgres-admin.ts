import pg from 'pg';
import { redactDatabaseUrl } from './database-config.js';
import { TenantDatabaseError, reasonOf } from './storage-errors.js';

/** PostgreSQL silently truncates longer identifiers, which could make two names collide. */
const MAX_IDENTIFIER_BYTES = 63;

/** `name` as a double-quoted PostgreSQL identifier; refuses names PostgreSQL would mangle. */
export function quotePostgresIdentifier(name: string): string {
  if (name.length === 0) throw new Error('a PostgreSQL identifier cannot be empty');
  if (name.includes('\0')) throw new Error('a PostgreSQL identifier cannot contain NUL');
  if (Buffer.byteLength(name, 'utf8') > MAX_IDENTIFIER_BYTES) {
    throw new Error(
      `PostgreSQL identifier ${JSON.stringify(name)} is longer than ${MAX_IDENTIFIER_BYTES} bytes`,
    );
  }
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * The URL of database `name` on the server `adminUrl` points at (same user, password, host and
 * options). pg decodes the path with `decodeURI`, which cannot carry `/`, `?`, `#` or `%`, so
 * such names are refused rather than silently connecting to another database.
 */
export function postgresDatabaseUrl(adminUrl: string, name: string): string {
  quotePostgresIdentifier(name);
  if (/[/?#%]/.test(name)) {
    throw new Error(`database name ${JSON.stringify(name)} cannot be used in a URL`);
  }
  const url = new URL(adminUrl);
  url.pathname = `/${encodeURI(name)}`;
  return url.toString();
}

/**
 * Creates database `name` (a tenant's, or a test's). Collation and ctype `C` make text order
 * bytewise, the same as SQLite's, so queries sort identically on both dialects.
 */
export async function createPostgresDatabase(adminUrl: string, name: string): Promise<void> {
  const quoted = quotePostgresIdentifier(name);
  await withAdminClient(adminUrl, `create database ${quoted}`, (client) =>
    client.query(
      `create database ${quoted} template template0 encoding 'UTF8' lc_collate 'C' lc_ctype 'C'`,
    ),
  );
}

/** Drops database `name` if it exists, disconnecting anyone still using it (`WITH (FORCE)`). */
export async function dropPostgresDatabase(adminUrl: string, name: string): Promise<void> {
  const quoted = quotePostgresIdentifier(name);
  await withAdminClient(adminUrl, `drop database ${quoted}`, (client) =>
    client.query(`drop database if exists ${quoted} with (force)`),
  );
}

async function withAdminClient(
  adminUrl: string,
  what: string,
  fn: (client: pg.Client) => Promise<unknown>,
): Promise<void> {
  const where = redactDatabaseUrl(adminUrl);
  const config = { dialect: 'postgres', url: adminUrl } as const;
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  // An unhandled 'error' event (the server going away) would crash the process.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    throw new TenantDatabaseError(`cannot connect to ${where}: ${reasonOf(error, config)}`, {
      cause: error,
    });
  }
  try {
    await fn(client);
  } catch (error) {
    throw new TenantDatabaseError(`cannot ${what} on ${where}: ${reasonOf(error, config)}`, {
      cause: error,
    });
  } finally {
    await client.end().catch(() => {});
  }
}
