import { afterEach, describe, expect, it } from 'vitest';
import { openTestDatabaseConfig } from '../../../test/helpers/test-database.js';
import { openTenantDatabase, type TenantDatabase } from '../tenant-database.js';
import { insertAccessToken, selectAccessTokenOwner } from './access-tokens.js';
import {
  currentAccountDataStreamId,
  deleteAccountDataOfUser,
  selectAccountData,
  selectAccountDataSince,
  upsertAccountData,
} from './account-data.js';
import {
  deleteAllDevices,
  deleteDevices,
  insertDevice,
  selectDevice,
  selectDevices,
  updateDeviceDisplayName,
} from './devices.js';
import { insertFilter, selectFilter, selectFilterIdByJson } from './filters.js';
import { insertLoginToken, takeLoginToken } from './login-tokens.js';
import { insertProfile, selectProfile, updateProfile } from './profiles.js';
import {
  deletePredecessors,
  deleteRefreshToken,
  hasPredecessor,
  insertRefreshToken,
  selectRefreshToken,
  setNextRefreshToken,
} from './refresh-tokens.js';
import {
  addPendingUse,
  completePendingUse,
  insertRegistrationToken,
  releasePendingUse,
  selectRegistrationToken,
} from './registration-tokens.js';
import {
  deleteUiaSessionsBefore,
  insertUiaSession,
  selectUiaSession,
  takeUiaSession,
  updateUiaSession,
} from './uia-sessions.js';
import {
  insertUser,
  markUserDeactivated,
  selectUser,
  selectUsersIgnoringCase,
  updatePasswordHash,
} from './users.js';

const ALICE = '@alice:alpha.test';
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function open(): Promise<TenantDatabase> {
  const { config, cleanup } = await openTestDatabaseConfig();
  const db = await openTenantDatabase(config, { serverName: 'alpha.test' });
  cleanups.push(cleanup, () => db.close());
  return db;
}

async function withUserAndDevice(db: TenantDatabase, userId = ALICE, deviceId = 'DEV1') {
  await db.transact(async (trx) => {
    if ((await selectUser(trx, userId)) === undefined) {
      await insertUser(trx, {
        userId,
        passwordHash: 'h',
        isAdmin: false,
        isGuest: false,
        createdTs: 1,
      });
    }
    await insertDevice(trx, { userId, deviceId, displayName: 'Phone', ip: '10.0.0.1', now: 5 });
  });
}

describe('account storage', () => {
  it('inserts users once and finds them ignoring ASCII case', async () => {
    const db = await open();
    const first = await db.transact((trx) =>
      insertUser(trx, {
        userId: ALICE,
        passwordHash: null,
        isAdmin: true,
        isGuest: false,
        createdTs: 7,
      }),
    );
    const again = await db.transact((trx) =>
      insertUser(trx, {
        userId: ALICE,
        passwordHash: 'x',
        isAdmin: false,
        isGuest: true,
        createdTs: 8,
      }),
    );
    expect([first, again]).toEqual([true, false]);
    expect(await db.read((d) => selectUser(d, ALICE))).toEqual({
      user_id: ALICE,
      password_hash: null,
      is_admin: 1,
      is_guest: 0,
      deactivated: 0,
      created_ts: 7,
    });
    const found = await db.read((d) => selectUsersIgnoringCase(d, '@ALICE:Alpha.Test'));
    expect(found.map((u) => u.user_id)).toEqual([ALICE]);

    await db.transact((trx) => updatePasswordHash(trx, ALICE, 'new-hash'));
    expect((await db.read((d) => selectUser(d, ALICE)))?.password_hash).toBe('new-hash');
    await db.transact((trx) => markUserDeactivated(trx, ALICE));
    expect(await db.read((d) => selectUser(d, ALICE))).toMatchObject({
      deactivated: 1,
      password_hash: null,
    });
  });

  it('keeps profiles: insert, partial update, clear', async () => {
    const db = await open();
    await db.transact(async (trx) => {
      await insertUser(trx, {
        userId: ALICE,
        passwordHash: null,
        isAdmin: false,
        isGuest: false,
        createdTs: 1,
      });
      await insertProfile(trx, ALICE, 'alice');
    });
    await db.transact((trx) => updateProfile(trx, ALICE, { avatarUrl: 'mxc://a/b' }));
    expect(await db.read((d) => selectProfile(d, ALICE))).toEqual({
      user_id: ALICE,
      displayname: 'alice',
      avatar_url: 'mxc://a/b',
    });
    await db.transact((trx) => updateProfile(trx, ALICE, { displayname: null }));
    expect((await db.read((d) => selectProfile(d, ALICE)))?.displayname).toBeNull();
  });

  it('deletes a device together with its access and refresh tokens', async () => {
    const db = await open();
    await withUserAndDevice(db, ALICE, 'DEV1');
    await withUserAndDevice(db, ALICE, 'DEV2');
    await db.transact(async (trx) => {
      await insertRefreshToken(trx, {
        id: 'r1',
        tokenHash: 'rh1',
        userId: ALICE,
        deviceId: 'DEV1',
        createdTs: 1,
      });
      await insertAccessToken(trx, {
        tokenHash: 'a1',
        userId: ALICE,
        deviceId: 'DEV1',
        createdTs: 1,
        expiresTs: 100,
        refreshTokenId: 'r1',
      });
      await insertAccessToken(trx, {
        tokenHash: 'a2',
        userId: ALICE,
        deviceId: 'DEV2',
        createdTs: 1,
        expiresTs: null,
        refreshTokenId: null,
      });
    });
    expect(await db.read((d) => selectAccessTokenOwner(d, 'a1'))).toEqual({
      user_id: ALICE,
      device_id: 'DEV1',
      expires_ts: 100,
      refresh_token_id: 'r1',
      is_admin: 0,
      is_guest: 0,
      deactivated: 0,
      last_seen_ts: 5,
      last_seen_ip: '10.0.0.1',
    });

    const deleted = await db.transact((trx) => deleteDevices(trx, ALICE, ['DEV1', 'NOPE']));
    expect(deleted).toEqual(['DEV1']);
    expect(await db.read((d) => selectAccessTokenOwner(d, 'a1'))).toBeUndefined();
    expect(await db.read((d) => selectRefreshToken(d, 'rh1'))).toBeUndefined();
    expect(await db.read((d) => selectAccessTokenOwner(d, 'a2'))).toBeDefined();

    await withUserAndDevice(db, ALICE, 'DEV3');
    expect(await db.transact((trx) => deleteAllDevices(trx, ALICE, 'DEV3'))).toEqual(['DEV2']);
    expect((await db.read((d) => selectDevices(d, ALICE))).map((d) => d.device_id)).toEqual([
      'DEV3',
    ]);
    expect(await db.transact((trx) => updateDeviceDisplayName(trx, ALICE, 'DEV3', 'Laptop'))).toBe(
      true,
    );
    expect(await db.transact((trx) => updateDeviceDisplayName(trx, ALICE, 'DEV9', 'x'))).toBe(
      false,
    );
    expect((await db.read((d) => selectDevice(d, ALICE, 'DEV3')))?.display_name).toBe('Laptop');
  });

  it('refuses a token for a device that does not exist (foreign key)', async () => {
    const db = await open();
    await withUserAndDevice(db);
    await expect(
      db.transact((trx) =>
        insertAccessToken(trx, {
          tokenHash: 'x',
          userId: ALICE,
          deviceId: 'GHOST',
          createdTs: 1,
          expiresTs: null,
          refreshTokenId: null,
        }),
      ),
    ).rejects.toThrow();
  });

  it('chains refresh tokens and retires predecessors with their access tokens', async () => {
    const db = await open();
    await withUserAndDevice(db);
    await db.transact(async (trx) => {
      for (const id of ['r1', 'r2']) {
        await insertRefreshToken(trx, {
          id,
          tokenHash: `h-${id}`,
          userId: ALICE,
          deviceId: 'DEV1',
          createdTs: 1,
        });
      }
      await insertAccessToken(trx, {
        tokenHash: 'a-old',
        userId: ALICE,
        deviceId: 'DEV1',
        createdTs: 1,
        expiresTs: 10,
        refreshTokenId: 'r1',
      });
      await setNextRefreshToken(trx, 'r1', 'r2');
    });
    expect(await db.read((d) => hasPredecessor(d, 'r2'))).toBe(true);
    expect((await db.read((d) => selectRefreshToken(d, 'h-r1')))?.next_token_id).toBe('r2');
    await db.transact((trx) => deletePredecessors(trx, 'r2'));
    expect(await db.read((d) => hasPredecessor(d, 'r2'))).toBe(false);
    expect(await db.read((d) => selectRefreshToken(d, 'h-r1'))).toBeUndefined();
    expect(await db.read((d) => selectAccessTokenOwner(d, 'a-old'))).toBeUndefined();
    await db.transact((trx) => deleteRefreshToken(trx, 'r2'));
    expect(await db.read((d) => selectRefreshToken(d, 'h-r2'))).toBeUndefined();
  });

  it('takes a login token exactly once', async () => {
    const db = await open();
    await withUserAndDevice(db);
    await db.transact((trx) =>
      insertLoginToken(trx, { tokenHash: 'lt', userId: ALICE, createdTs: 1, expiresTs: 99 }),
    );
    const results = await Promise.all([
      db.transact((trx) => takeLoginToken(trx, 'lt')),
      db.transact((trx) => takeLoginToken(trx, 'lt')),
    ]);
    expect(results.filter((r) => r !== undefined)).toEqual([{ user_id: ALICE, expires_ts: 99 }]);
  });

  it('stores UIA sessions, updates them, and expires them handing back held tokens', async () => {
    const db = await open();
    await db.transact(async (trx) => {
      await insertUiaSession(trx, {
        sessionId: 's-old',
        action: 'POST /register',
        userId: null,
        completed: [],
        registrationToken: null,
        createdTs: 100,
      });
      await insertUiaSession(trx, {
        sessionId: 's-new',
        action: 'POST /register',
        userId: null,
        completed: [],
        registrationToken: null,
        createdTs: 500,
      });
      await updateUiaSession(trx, 's-old', {
        userId: ALICE,
        completed: ['m.login.registration_token'],
        registrationToken: 'tok',
      });
    });
    expect(await db.read((d) => selectUiaSession(d, 's-old'))).toEqual({
      sessionId: 's-old',
      action: 'POST /register',
      userId: ALICE,
      completed: ['m.login.registration_token'],
      registrationToken: 'tok',
      createdTs: 100,
    });
    expect(await db.transact((trx) => deleteUiaSessionsBefore(trx, 200))).toEqual(['tok']);
    expect(await db.read((d) => selectUiaSession(d, 's-old'))).toBeUndefined();
    expect(await db.transact((trx) => takeUiaSession(trx, 's-new'))).toEqual({
      registration_token: null,
    });
    expect(await db.transact((trx) => takeUiaSession(trx, 's-new'))).toBeUndefined();
  });

  it('counts registration token uses: pending, completed, released', async () => {
    const db = await open();
    const inserted = await db.transact((trx) =>
      insertRegistrationToken(trx, { token: 'T', usesAllowed: 3, expiryTime: null }),
    );
    const duplicate = await db.transact((trx) =>
      insertRegistrationToken(trx, { token: 'T', usesAllowed: 1, expiryTime: 5 }),
    );
    expect([inserted, duplicate]).toEqual([true, false]);
    await db.transact(async (trx) => {
      await addPendingUse(trx, 'T');
      await addPendingUse(trx, 'T');
      await completePendingUse(trx, 'T');
      await releasePendingUse(trx, 'T');
      // Never below zero.
      await releasePendingUse(trx, 'T');
    });
    expect(await db.read((d) => selectRegistrationToken(d, 'T'))).toEqual({
      token: 'T',
      uses_allowed: 3,
      pending: 0,
      completed: 1,
      expiry_time: null,
    });
  });

  it('writes account data on a stream, global and per room, and reads changes since', async () => {
    const db = await open();
    await withUserAndDevice(db);
    const start = await db.read((d) => currentAccountDataStreamId(d));
    const first = await db.transact((trx) =>
      upsertAccountData(trx, ALICE, '', 'm.direct', { a: 1 }),
    );
    const second = await db.transact((trx) =>
      upsertAccountData(trx, ALICE, '!room:alpha.test', 'm.tag', { tags: {} }),
    );
    const third = await db.transact((trx) =>
      upsertAccountData(trx, ALICE, '', 'm.direct', { a: 2 }),
    );
    expect([first, second, third]).toEqual([start + 1, start + 2, start + 3]);
    expect(await db.read((d) => selectAccountData(d, ALICE, '', 'm.direct'))).toEqual({ a: 2 });
    expect(await db.read((d) => selectAccountData(d, ALICE, '', 'm.tag'))).toBeUndefined();
    expect(await db.read((d) => selectAccountDataSince(d, ALICE, first))).toEqual([
      { roomId: '!room:alpha.test', type: 'm.tag', content: { tags: {} }, streamId: second },
      { roomId: '', type: 'm.direct', content: { a: 2 }, streamId: third },
    ]);
    await db.transact((trx) => deleteAccountDataOfUser(trx, ALICE));
    expect(await db.read((d) => selectAccountDataSince(d, ALICE, 0))).toEqual([]);
  });

  it('hands out distinct stream positions to concurrent writers', async () => {
    const db = await open();
    await withUserAndDevice(db);
    const positions = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        db.transact((trx) => upsertAccountData(trx, ALICE, '', `t.${i}`, {})),
      ),
    );
    expect(new Set(positions).size).toBe(10);
  });

  it('stores filters and finds one by its JSON', async () => {
    const db = await open();
    await withUserAndDevice(db);
    await db.transact((trx) => insertFilter(trx, ALICE, 'f1', '{"room":{}}'));
    expect(await db.read((d) => selectFilter(d, ALICE, 'f1'))).toBe('{"room":{}}');
    expect(await db.read((d) => selectFilter(d, ALICE, 'f2'))).toBeUndefined();
    expect(await db.read((d) => selectFilterIdByJson(d, ALICE, '{"room":{}}'))).toBe('f1');
    expect(
      await db.read((d) => selectFilterIdByJson(d, '@bob:alpha.test', '{"room":{}}')),
    ).toBeUndefined();
  });
});
