import type { Migration, MigrationProvider } from 'kysely';
import * as m0001 from './0001-tenant-meta.js';
import * as m0002 from './0002-room-graph.js';
import * as m0003 from './0003-accounts.js';
import * as m0004 from './0004-rooms.js';
import * as m0005 from './0005-ephemeral.js';
import * as m0006 from './0006-push-rules.js';
import * as m0007 from './0007-device-streams.js';
import * as m0008 from './0008-e2ee-keys.js';
import * as m0009 from './0009-key-backup.js';
import * as m0010 from './0010-media.js';
import * as m0011 from './0011-media-thumbnails.js';
import * as m0012 from './0012-federation.js';
import * as m0013 from './0013-openid-tokens.js';
import * as m0014 from './0014-backfill-positions.js';
import * as m0015 from './0015-remote-media.js';
import * as m0016 from './0016-media-cache-access.js';

/**
 * Every migration, by name. Kysely applies them in name order and records each name in the
 * database, so a name must never change once released; add new ones with the next number.
 * Forward only: tenant databases are never migrated down.
 */
const MIGRATIONS: Readonly<Record<string, Migration>> = Object.freeze({
  '0001-tenant-meta': m0001,
  '0002-room-graph': m0002,
  '0003-accounts': m0003,
  '0004-rooms': m0004,
  '0005-ephemeral': m0005,
  '0006-push-rules': m0006,
  '0007-device-streams': m0007,
  '0008-e2ee-keys': m0008,
  '0009-key-backup': m0009,
  '0010-media': m0010,
  '0011-media-thumbnails': m0011,
  '0012-federation': m0012,
  '0013-openid-tokens': m0013,
  '0014-backfill-positions': m0014,
  '0015-remote-media': m0015,
  '0016-media-cache-access': m0016,
});

export function migrationNames(): string[] {
  return Object.keys(MIGRATIONS).sort();
}

/** Migrations are listed in code (no directory scanning), so bundling and tsx both just work. */
export function createMigrationProvider(): MigrationProvider {
  return { getMigrations: () => Promise.resolve({ ...MIGRATIONS }) };
}
