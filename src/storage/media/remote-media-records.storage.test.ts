import { afterEach, describe, expect, it } from 'vitest';
import { openTestDatabaseConfig } from '../../../test/helpers/test-database.js';
import { openTenantDatabase, type TenantDatabase } from '../tenant-database.js';
import {
  deleteRemoteMedia,
  insertRemoteMedia,
  selectRemoteMedia,
  type RemoteMediaRecord,
} from './remote-media-records.js';

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

const record: RemoteMediaRecord = {
  origin: 'b.test:8448',
  mediaId: 'abcdefghijklmnopqrstuvwx',
  cacheId: 'CACHEcacheCACHEcacheCACH',
  contentType: 'image/png',
  uploadName: 'cat.png',
  size: 6_000_000_000,
  sha256: 'ab'.repeat(32),
  fetchedTs: 1_700_000_000_000,
};

describe('remote media cache storage', () => {
  it('keeps the first record of a remote media item, by origin and media ID', async () => {
    const db = await openDatabase();
    expect(await db.transact((trx) => insertRemoteMedia(trx, record))).toBe(true);
    expect(
      await db.transact((trx) => insertRemoteMedia(trx, { ...record, cacheId: 'other' })),
    ).toBe(false);
    expect(await db.read((r) => selectRemoteMedia(r, record.origin, record.mediaId))).toEqual(
      record,
    );
    // Same media ID on another origin: another item.
    expect(await db.read((r) => selectRemoteMedia(r, 'c.test', record.mediaId))).toBeUndefined();
    await db.transact((trx) => deleteRemoteMedia(trx, record.origin, record.mediaId));
    expect(
      await db.read((r) => selectRemoteMedia(r, record.origin, record.mediaId)),
    ).toBeUndefined();
  });
});
