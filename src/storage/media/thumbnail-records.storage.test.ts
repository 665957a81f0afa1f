import { afterEach, describe, expect, it } from 'vitest';
import { openTestDatabaseConfig } from '../../../test/helpers/test-database.js';
import { openTenantDatabase, type TenantDatabase } from '../tenant-database.js';
import {
  countThumbnails,
  deleteThumbnailsOf,
  selectThumbnail,
  selectThumbnailsOf,
  upsertThumbnail,
} from './thumbnail-records.js';

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

const crop96 = { width: 96, height: 96, method: 'crop', animated: false } as const;
const scale320 = { width: 320, height: 240, method: 'scale', animated: false } as const;

describe('thumbnail storage', () => {
  it('keys thumbnails by media ID, size and method', async () => {
    const db = await openDatabase();
    await db.transact(async (trx) => {
      await upsertThumbnail(trx, {
        mediaId: 'm1',
        ...crop96,
        contentType: 'image/png',
        size: 1234,
        createdTs: 5000,
      });
      await upsertThumbnail(trx, {
        mediaId: 'm1',
        ...scale320,
        contentType: 'image/jpeg',
        size: 4321,
        createdTs: 6000,
      });
    });
    expect(await db.read((r) => selectThumbnail(r, 'm1', crop96))).toEqual({
      mediaId: 'm1',
      ...crop96,
      contentType: 'image/png',
      size: 1234,
      createdTs: 5000,
    });
    expect(await db.read((r) => selectThumbnail(r, 'm1', scale320))).toMatchObject({
      contentType: 'image/jpeg',
      size: 4321,
    });
    expect(
      await db.read((r) => selectThumbnail(r, 'm1', { ...crop96, method: 'scale' })),
    ).toBeUndefined();
    expect(await db.read((r) => selectThumbnail(r, 'm2', crop96))).toBeUndefined();
    expect(await db.read((r) => countThumbnails(r, 'm1'))).toBe(2);
    expect(await db.read((r) => countThumbnails(r, 'm2'))).toBe(0);
  });

  it('replaces the row when the same thumbnail is stored again', async () => {
    const db = await openDatabase();
    const base = { mediaId: 'm1', ...crop96, contentType: 'image/png' };
    await db.transact((trx) => upsertThumbnail(trx, { ...base, size: 10, createdTs: 1 }));
    await db.transact((trx) => upsertThumbnail(trx, { ...base, size: 20, createdTs: 2 }));
    expect(await db.read((r) => countThumbnails(r, 'm1'))).toBe(1);
    expect(await db.read((r) => selectThumbnail(r, 'm1', crop96))).toMatchObject({
      size: 20,
      createdTs: 2,
    });
  });

  it('keeps an animated and a still thumbnail of one size apart, lists and forgets them', async () => {
    const db = await openDatabase();
    const still = { mediaId: 'm1', ...crop96, contentType: 'image/png', size: 10, createdTs: 1 };
    const moving = { ...still, animated: true, contentType: 'image/webp', size: 30 };
    await db.transact(async (trx) => {
      await upsertThumbnail(trx, still);
      await upsertThumbnail(trx, moving);
      await upsertThumbnail(trx, { ...still, mediaId: 'm2' });
    });
    expect(await db.read((r) => selectThumbnail(r, 'm1', crop96))).toEqual(still);
    expect(await db.read((r) => selectThumbnail(r, 'm1', { ...crop96, animated: true }))).toEqual(
      moving,
    );
    const listed = await db.read((r) => selectThumbnailsOf(r, 'm1'));
    expect(listed.map((t) => t.animated).sort()).toEqual([false, true]);
    await db.transact((trx) => deleteThumbnailsOf(trx, 'm1'));
    expect(await db.read((r) => countThumbnails(r, 'm1'))).toBe(0);
    expect(await db.read((r) => countThumbnails(r, 'm2'))).toBe(1);
  });
});
