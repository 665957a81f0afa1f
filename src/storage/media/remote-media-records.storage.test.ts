import { afterEach, describe, expect, it } from 'vitest';
import { openTestDatabaseConfig } from '../../../test/helpers/test-database.js';
import { openTenantDatabase, type TenantDatabase } from '../tenant-database.js';
import {
  deleteRemoteMedia,
  deleteRemoteMediaUnusedSince,
  insertRemoteMedia,
  selectRemoteMedia,
  selectRemoteMediaUnusedSince,
  touchRemoteMedia,
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
  lastAccessTs: 1_700_000_000_000,
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

  it('selects what was last served before a time, oldest first, and touches at most once per resolution', async () => {
    const db = await openDatabase();
    const HOUR = 3_600_000;
    const at = (hours: number) => record.fetchedTs + hours * HOUR;
    const items = [
      { ...record, mediaId: 'old', cacheId: 'c-old', lastAccessTs: at(0) },
      { ...record, mediaId: 'older', cacheId: 'c-older', lastAccessTs: at(-5) },
      { ...record, mediaId: 'recent', cacheId: 'c-recent', lastAccessTs: at(10) },
      { ...record, origin: 'c.test', mediaId: 'old', cacheId: 'c-c-old', lastAccessTs: at(1) },
    ];
    await db.transact(async (trx) => {
      for (const item of items) await insertRemoteMedia(trx, item);
    });
    const unused = (cutoff: number, limit = 10) =>
      db.read((r) => selectRemoteMediaUnusedSince(r, cutoff, limit));
    expect((await unused(at(5))).map((m) => `${m.origin}/${m.mediaId}`)).toEqual([
      'b.test:8448/older',
      'b.test:8448/old',
      'c.test/old',
    ]);
    expect((await unused(at(5), 1)).map((m) => m.mediaId)).toEqual(['older']);
    expect(await unused(at(-5))).toEqual([]);
    expect(await unused(at(5))).toContainEqual(items[0]);

    // Served again within the hour: no write; later: one write.
    expect(
      await db.transact((t) => touchRemoteMedia(t, record.origin, 'old', at(0.5), at(-0.5))),
    ).toBe(false);
    expect(await db.transact((t) => touchRemoteMedia(t, record.origin, 'old', at(6), at(5)))).toBe(
      true,
    );
    expect((await db.read((r) => selectRemoteMedia(r, record.origin, 'old')))?.lastAccessTs).toBe(
      at(6),
    );
    expect((await unused(at(5))).map((m) => m.mediaId)).toEqual(['older', 'old']);

    // Deleted only while still unused since the cutoff.
    expect(
      await db.transact((t) => deleteRemoteMediaUnusedSince(t, record.origin, 'old', at(5))),
    ).toBe(false);
    expect(
      await db.transact((t) => deleteRemoteMediaUnusedSince(t, record.origin, 'older', at(5))),
    ).toBe(true);
    expect(await db.read((r) => selectRemoteMedia(r, record.origin, 'older'))).toBeUndefined();
    expect(await db.read((r) => selectRemoteMedia(r, 'c.test', 'old'))).toBeDefined();
  });
});
