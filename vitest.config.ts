import { defineConfig } from 'vitest/config';

// Storage tests (`*.storage.test.ts`) run once per SQL dialect, as separate projects, so that the
// summary names how many tests ran on SQLite and how many on PostgreSQL.
const storageTests = ['src/**/*.storage.test.ts', 'test/**/*.storage.test.ts'];

export default defineConfig({
  test: {
    // Tenant databases check for nested transactions in tests (off in production: see
    // `scopeChecks` in src/storage/tenant-database.ts). Processes the tests spawn inherit it.
    env: { MARINA_DB_SCOPE_CHECKS: '1' },
    reporters: ['default', './test/helpers/dialect-summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/*.test.ts'],
          exclude: storageTests,
        },
      },
      {
        test: {
          name: 'storage:sqlite',
          include: storageTests,
          env: { MARINA_TEST_DIALECT: 'sqlite' },
        },
      },
      {
        test: {
          name: 'storage:postgres',
          include: storageTests,
          env: { MARINA_TEST_DIALECT: 'postgres' },
          globalSetup: ['./test/helpers/postgres-global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
