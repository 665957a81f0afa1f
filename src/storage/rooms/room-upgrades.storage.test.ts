import { afterEach, describe, expect, it } from 'vitest';
import { openTestDatabaseConfig } from '../../../test/helpers/test-database.js';
import { insertRoom } from '../room-graph/rooms.js';
import { openTenantDatabase } from '../tenant-database.js';
import type { TenantDatabase } from '../tenant-database.js';
import { insertAlias, selectAliasesOfRoom } from './aliases.js';
import { selectDirectoryVisibility, upsertDirectoryVisibility } from './directory.js';
import { moveDirectoryListing, moveRoomAliases } from './room-upgrades.js';

const ALICE = '@alice:a.test';
const OLD = '!old:a.test';
const NEW = '!new:a.test';
const OTHER = '!other:a.test';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function openDatabase(): Promise<TenantDatabase> {
  const test = await openTestDatabaseConfig();
  const db = await openTenantDatabase(test.config, { serverName: 'a.test' });
  cleanups.push(async () => {
    await db.close();
    await test.cleanup();
  });
  await db.transact(async (trx) => {
    for (const roomId of [OLD, NEW, OTHER]) await insertRoom(trx, roomId, '10');
  });
  return db;
}

describe('room upgrade storage', () => {
  it('moves every alias of the old room, and only those', async () => {
    const db = await openDatabase();
    await db.transact(async (trx) => {
      await insertAlias(trx, '#b:a.test', OLD, ALICE);
      await insertAlias(trx, '#a:a.test', OLD, ALICE);
      await insertAlias(trx, '#other:a.test', OTHER, ALICE);
    });
    expect(await db.transact((trx) => moveRoomAliases(trx, OLD, NEW))).toEqual([
      '#a:a.test',
      '#b:a.test',
    ]);
    expect(await db.read((r) => selectAliasesOfRoom(r, NEW))).toEqual(['#a:a.test', '#b:a.test']);
    expect(await db.read((r) => selectAliasesOfRoom(r, OLD))).toEqual([]);
    expect(await db.read((r) => selectAliasesOfRoom(r, OTHER))).toEqual(['#other:a.test']);
    expect(await db.transact((trx) => moveRoomAliases(trx, OLD, NEW))).toEqual([]);
  });

  it('moves a published listing and leaves an unpublished room unlisted', async () => {
    const db = await openDatabase();
    expect(await db.transact((trx) => moveDirectoryListing(trx, OLD, NEW))).toBe(false);
    expect(await db.read((r) => selectDirectoryVisibility(r, NEW))).toBe('private');

    await db.transact((trx) => upsertDirectoryVisibility(trx, OLD, 'public'));
    expect(await db.transact((trx) => moveDirectoryListing(trx, OLD, NEW))).toBe(true);
    expect(await db.read((r) => selectDirectoryVisibility(r, NEW))).toBe('public');
    expect(await db.read((r) => selectDirectoryVisibility(r, OLD))).toBe('private');
  });
});
