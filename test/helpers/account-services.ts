import { pino } from 'pino';
import {
  createAccountServices,
  type AccountServices,
} from '../../src/services/account-services.js';
import { tenantConfigSchema, type TenantConfig } from '../../src/services/tenant-config.js';
import { openTenantDatabase, type TenantDatabase } from '../../src/storage/tenant-database.js';
import { ManualClock } from './manual-clock.js';
import { openTestDatabaseConfig } from './test-database.js';

export const TEST_SERVER_NAME = 'alpha.test';
/** Cheap scrypt for tests that hash many passwords; the hasher's own tests use the real cost. */
export const TEST_PASSWORD_HASHING = { cost: { ln: 10, r: 8, p: 1 } };

export interface TestAccountServices {
  services: AccountServices;
  db: TenantDatabase;
  clock: ManualClock;
  config: TenantConfig;
  close(): Promise<void>;
}

/**
 * One tenant's account services over a fresh database of the dialect under test (storage
 * tests), built exactly as `startHomeserver` builds them.
 */
export async function openAccountServices(
  overrides: Partial<TenantConfig> = {},
): Promise<TestAccountServices> {
  const database = await openTestDatabaseConfig();
  const db = await openTenantDatabase(database.config, { serverName: TEST_SERVER_NAME });
  const clock = new ManualClock();
  const config = {
    ...tenantConfigSchema.parse({
      server_name: TEST_SERVER_NAME,
      database: { dialect: 'sqlite', path: 'unused.db' },
      media_store: { kind: 'local', path: 'media' },
      signing_key_path: 'unused.key',
      registration_shared_secret: 'a-shared-secret-for-tests',
    }),
    ...overrides,
  };
  const services = createAccountServices({
    config,
    db,
    clock,
    logger: pino({ level: 'silent' }),
    passwordHashing: TEST_PASSWORD_HASHING,
  });
  return {
    services,
    db,
    clock,
    config,
    close: async () => {
      await db.close();
      await database.cleanup();
    },
  };
}
