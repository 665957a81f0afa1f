import { afterEach, describe, expect, it } from 'vitest';
import { openTestDatabaseConfig } from '../../../test/helpers/test-database.js';
import { openTenantDatabase, type TenantDatabase } from '../tenant-database.js';
import {
  completePendingMedia,
  deleteExpiredPendingMedia,
  insertPendingMedia,
  insertUploadedMedia,
  reserveMediaBytes,
  selectMedia,
  selectMediaBytes,
  selectPendingMediaOf,
} from './media-records.js';

const ALICE = '@alice:a.test';
const BOB = '@bob:a.test';
const content = (size: number, uploadedTs: number) => ({
  contentType: 'image/png',
  uploadName: 'cat.png',
  size,
  sha256: 'ab'.repeat(32),
  uploadedTs,
});

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
  return db;
}

describe('media storage', () => {
  it('records uploaded media and reads it back with numbers as numbers', async () => {
    const db = await openDatabase();
    await db.transact((trx) => insertUploadedMedia(trx, 'm1', ALICE, content(6_000_000_000, 1000)));
    expect(await db.read((r) => selectMedia(r, 'm1'))).toEqual({
      mediaId: 'm1',
      userId: ALICE,
      createdTs: 1000,
      uploadedTs: 1000,
      unusedExpiresTs: null,
      contentType: 'image/png',
      uploadName: 'cat.png',
      size: 6_000_000_000,
      sha256: 'ab'.repeat(32),
    });
    expect(await db.read((r) => selectMedia(r, 'nope'))).toBeUndefined();
  });

  it('completes a pending media ID once, and counts and forgets a user’s pending IDs', async () => {
    const db = await openDatabase();
    await db.transact(async (trx) => {
      await insertPendingMedia(trx, 'p1', ALICE, 100, 500);
      await insertPendingMedia(trx, 'p2', ALICE, 200, 600);
      await insertPendingMedia(trx, 'p3', BOB, 200, 600);
    });
    expect(await db.read((r) => selectPendingMediaOf(r, ALICE, 300))).toEqual({
      count: 2,
      firstExpiryTs: 500,
    });
    expect(await db.read((r) => selectPendingMediaOf(r, ALICE, 550))).toEqual({
      count: 1,
      firstExpiryTs: 600,
    });

    expect(await db.transact((trx) => completePendingMedia(trx, 'p2', content(10, 400)))).toBe(
      true,
    );
    expect(await db.transact((trx) => completePendingMedia(trx, 'p2', content(20, 450)))).toBe(
      false,
    );
    const p2 = await db.read((r) => selectMedia(r, 'p2'));
    expect(p2).toMatchObject({ uploadedTs: 400, unusedExpiresTs: null, size: 10, createdTs: 200 });
    expect(await db.read((r) => selectPendingMediaOf(r, ALICE, 300))).toEqual({
      count: 1,
      firstExpiryTs: 500,
    });

    await db.transact((trx) => deleteExpiredPendingMedia(trx, ALICE, 500));
    expect(await db.read((r) => selectMedia(r, 'p1'))).toBeUndefined();
    expect(await db.read((r) => selectMedia(r, 'p2'))).toBeDefined();
    expect(await db.read((r) => selectMedia(r, 'p3'))).toBeDefined();
  });

  it('reserves bytes only within the quota', async () => {
    const db = await openDatabase();
    expect(await db.read(selectMediaBytes)).toBe(0);
    expect(await db.transact((trx) => reserveMediaBytes(trx, 600, 1000))).toBe(true);
    expect(await db.transact((trx) => reserveMediaBytes(trx, 401, 1000))).toBe(false);
    expect(await db.transact((trx) => reserveMediaBytes(trx, 400, 1000))).toBe(true);
    expect(await db.transact((trx) => reserveMediaBytes(trx, 5_000_000_000, undefined))).toBe(true);
    expect(await db.read(selectMediaBytes)).toBe(5_000_001_000);
  });
});
