import type { TestProject } from 'vitest/node';
import { startPostgresCluster } from './postgres-cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the test PostgreSQL server; tests create and drop databases on it. */
    pgUrl: string;
  }
}

/**
 * Global setup of the `storage:postgres` project: one PostgreSQL cluster for the whole run
 * (each test creates its own database on it), or the server named by MARINA_TEST_PG_URL.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | void> {
  const givenUrl = process.env['MARINA_TEST_PG_URL'];
  if (givenUrl) {
    project.provide('pgUrl', givenUrl);
    return;
  }
  const cluster = await startPostgresCluster();
  project.provide('pgUrl', cluster.url);
  return () => cluster.stop();
}
