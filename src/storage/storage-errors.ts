import type { DatabaseConfig } from './database-config.js';
import { describeDatabase, secretsOf } from './database-config.js';

/** The database could not be opened, migrated or claimed; `cause` holds the driver's error. */
export class TenantDatabaseError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TenantDatabaseError';
  }
}

/** The database belongs to another tenant (or to something that is not Marina at all). */
export class TenantDatabaseOwnershipError extends TenantDatabaseError {
  readonly serverName: string;
  /** The `server_name` recorded in the database, or undefined if it is not a Marina database. */
  readonly ownerServerName: string | undefined;

  constructor(message: string, serverName: string, ownerServerName: string | undefined) {
    super(message);
    this.name = 'TenantDatabaseOwnershipError';
    this.serverName = serverName;
    this.ownerServerName = ownerServerName;
  }
}

/** A one-line reason for a driver error, with any password from the config blanked out. */
export function reasonOf(error: unknown, config?: DatabaseConfig): string {
  let reason: string;
  if (error instanceof AggregateError && error.errors.length > 0) {
    // Node reports a refused connection to every address of a host as an AggregateError with
    // an empty message; the useful text is in the inner errors.
    reason = [...new Set(error.errors.map((inner) => reasonOf(inner)))].join('; ');
  } else if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    reason = error.message || (typeof code === 'string' ? code : error.name);
  } else {
    reason = String(error);
  }
  for (const secret of config ? secretsOf(config) : []) reason = reason.split(secret).join('***');
  return reason;
}

/** `cannot <what> tenant database <where>: <reason>`, keeping the original error as `cause`. */
export function databaseError(what: string, config: DatabaseConfig, error: unknown) {
  return new TenantDatabaseError(
    `cannot ${what} tenant database ${describeDatabase(config)}: ${reasonOf(error, config)}`,
    { cause: error },
  );
}
