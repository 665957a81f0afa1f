import type { TestProject } from 'vitest/node';
import { dropPostgresDatabase } from '../../src/storage/postgres-admin.js';
import { startPostgresCluster } from './postgres-cluster.js';
import { createMigratedTemplate } from './postgres-template.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the test PostgreSQL server; tests create and drop databases on it. */
    pgUrl: string;
    /** A migrated database that belongs to no tenant; test databases are copies of it. */
    pgTemplateDatabase: string;
  }
}

/**
 * Global setup of the `storage:postgres` project: one PostgreSQL cluster for the whole run
 * (each test creates its own database on it), or the server named by MARINA_TEST_PG_URL, and one
 * migrated template database that test databases are copied from.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const givenUrl = process.env['MARINA_TEST_PG_URL'];
  let url: string;
  let stopCluster = async () => {};
  if (givenUrl) {
    url = givenUrl;
  } else {
    const cluster = await startPostgresCluster();
    url = cluster.url;
    stopCluster = () => cluster.stop();
  }
  let template: string;
  try {
    template = await createMigratedTemplate(url);
  } catch (error) {
    await stopCluster();
    throw error;
  }
  project.provide('pgUrl', url);
  project.provide('pgTemplateDatabase', template);
  return async () => {
    try {
      await dropPostgresDatabase(url, template);
    } finally {
      await stopCluster();
    }
  };
}
