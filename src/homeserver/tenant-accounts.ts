import type { Logger } from 'pino';
import { systemClock } from '../core/clock.js';
import { openTenantDatabase } from '../storage/tenant-database.js';
import { createAccountServices, type AccountServices } from '../services/account-services.js';
import type { TenantConfig } from '../services/tenant-config.js';
import { databaseConfigOf } from './homeserver.js';

/**
 * A tenant's account services without serving the tenant, for commands that manage accounts
 * (`marina user create`). It opens its own connections to the tenant's database, so it works
 * whether or not the tenant is running elsewhere: SQLite in WAL mode takes a second connection
 * (its busy timeout waits out the other's write lock), PostgreSQL any number.
 */
export interface TenantAccounts {
  readonly services: AccountServices;
  /** Waits for work in progress, then closes the database. */
  close(): Promise<void>;
}

/** Opens (and migrates, and claims if new) the tenant's database; production password hashing. */
export async function openTenantAccounts(
  config: TenantConfig,
  deps: { logger: Logger },
): Promise<TenantAccounts> {
  const logger = deps.logger.child({ server_name: config.server_name });
  const db = await openTenantDatabase(databaseConfigOf(config), {
    serverName: config.server_name,
    logger,
  });
  const services = createAccountServices({ config, db, clock: systemClock, logger });
  return { services, close: () => db.close() };
}
