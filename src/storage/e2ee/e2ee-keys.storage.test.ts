import { afterEach, describe, expect, it } from 'vitest';
import { openTestDatabaseConfig } from '../../../test/helpers/test-database.js';
import { deleteDevices, insertDevice, updateDeviceDisplayName } from '../accounts/devices.js';
import { insertUser } from '../accounts/users.js';
import { openTenantDatabase, type TenantDatabase } from '../tenant-database.js';
import {
  insertMasterKeyIfAbsent,
  selectCrossSigningKeys,
  selectCrossSigningKeysOfUser,
  upsertCrossSigningKey,
} from './cross-signing-keys.js';
import { selectDeviceKeysJson, selectDeviceKeysOfUser, upsertDeviceKeys } from './device-keys.js';
import { selectKeySignatures, upsertKeySignatures } from './key-signatures.js';
import {
  countOneTimeKeys,
  insertOneTimeKeys,
  selectFallbackKey,
  selectOneTimeKeys,
  selectUnusedFallbackKeyAlgorithms,
  takeFallbackKey,
  takeOneTimeKey,
  upsertFallbackKey,
  type StoredKey,
} from './one-time-keys.js';

const ALICE = '@alice:alpha.test';
const BOB = '@bob:alpha.test';
const PHONE = { userId: ALICE, deviceId: 'PHONE' };
const LAPTOP = { userId: ALICE, deviceId: 'LAPTOP' };
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function open(): Promise<TenantDatabase> {
  const { config, cleanup } = await openTestDatabaseConfig();
  const db = await openTenantDatabase(config, { serverName: 'alpha.test' });
  cleanups.push(cleanup, () => db.close());
  await db.transact(async (trx) => {
    for (const userId of [ALICE, BOB]) {
      await insertUser(trx, {
        userId,
        passwordHash: null,
        isAdmin: false,
        isGuest: false,
        createdTs: 1,
      });
    }
    for (const deviceId of ['PHONE', 'LAPTOP']) {
      await insertDevice(trx, { userId: ALICE, deviceId, displayName: null, ip: null, now: 1 });
    }
  });
  return db;
}

const otk = (keyId: string, algorithm = 'signed_curve25519'): StoredKey => ({
  algorithm,
  keyId,
  keyJson: JSON.stringify({ key: `k-${keyId}` }),
});

describe('device keys', () => {
  it('are stored per device, replaced by an upsert, and read with the display name', async () => {
    const db = await open();
    await db.transact(async (trx) => {
      await upsertDeviceKeys(trx, ALICE, 'PHONE', '{"v":1}');
      await upsertDeviceKeys(trx, ALICE, 'PHONE', '{"v":2}');
      await upsertDeviceKeys(trx, ALICE, 'LAPTOP', '{"v":3}');
      await updateDeviceDisplayName(trx, ALICE, 'LAPTOP', 'Laptop');
    });
    expect(await db.read((r) => selectDeviceKeysJson(r, ALICE, 'PHONE'))).toBe('{"v":2}');
    expect(await db.read((r) => selectDeviceKeysOfUser(r, ALICE))).toEqual([
      { userId: ALICE, deviceId: 'LAPTOP', keyJson: '{"v":3}', displayName: 'Laptop' },
      { userId: ALICE, deviceId: 'PHONE', keyJson: '{"v":2}', displayName: null },
    ]);
    expect(
      (await db.read((r) => selectDeviceKeysOfUser(r, ALICE, ['PHONE', 'NONE']))).map(
        (d) => d.deviceId,
      ),
    ).toEqual(['PHONE']);
  });
});

describe('one-time keys', () => {
  it('are counted per algorithm and taken oldest upload first, each once', async () => {
    const db = await open();
    await db.transact((trx) => insertOneTimeKeys(trx, PHONE, [otk('B'), otk('C')]));
    await db.transact((trx) => insertOneTimeKeys(trx, PHONE, [otk('A'), otk('X', 'curve25519')]));
    expect(await db.read((r) => countOneTimeKeys(r, PHONE))).toEqual({
      signed_curve25519: 3,
      curve25519: 1,
    });
    expect([
      ...(await db.read((r) => selectOneTimeKeys(r, PHONE, 'signed_curve25519', ['A', 'Z']))),
    ]).toEqual([['A', otk('A').keyJson]]);
    const taken: string[] = [];
    for (let i = 0; i < 4; i++) {
      const key = await db.transact((trx) => takeOneTimeKey(trx, PHONE, 'signed_curve25519'));
      if (key !== undefined) taken.push(key.keyId);
    }
    // B and C came in one upload (no order between them), A in a later one.
    expect(taken.slice(0, 2).sort()).toEqual(['B', 'C']);
    expect(taken.slice(2)).toEqual(['A']);
    expect(await db.read((r) => countOneTimeKeys(r, PHONE))).toEqual({ curve25519: 1 });
  });

  it('concurrent transactions never take the same key', async () => {
    const db = await open();
    const keys = Array.from({ length: 20 }, (_, i) => otk(`K${String(i).padStart(2, '0')}`));
    await db.transact((trx) => insertOneTimeKeys(trx, PHONE, keys));
    const results = await Promise.all(
      Array.from({ length: 30 }, () =>
        db.transact((trx) => takeOneTimeKey(trx, PHONE, 'signed_curve25519')),
      ),
    );
    const taken = results.flatMap((key) => (key === undefined ? [] : [key.keyId]));
    expect(taken).toHaveLength(20);
    expect(new Set(taken).size).toBe(20);
  });

  it('a rolled-back claim leaves its key', async () => {
    const db = await open();
    await db.transact((trx) => insertOneTimeKeys(trx, PHONE, [otk('A')]));
    await expect(
      db.transact(async (trx) => {
        await takeOneTimeKey(trx, PHONE, 'signed_curve25519');
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await db.read((r) => countOneTimeKeys(r, PHONE))).toEqual({ signed_curve25519: 1 });
  });
});

describe('fallback keys', () => {
  it('one per algorithm: taking marks it used and keeps it; an upsert replaces it unused', async () => {
    const db = await open();
    await db.transact((trx) => upsertFallbackKey(trx, PHONE, otk('F1')));
    expect(await db.read((r) => selectUnusedFallbackKeyAlgorithms(r, PHONE))).toEqual([
      'signed_curve25519',
    ]);
    for (let i = 0; i < 2; i++) {
      expect(
        (await db.transact((trx) => takeFallbackKey(trx, PHONE, 'signed_curve25519')))?.keyId,
      ).toBe('F1');
    }
    expect(await db.read((r) => selectUnusedFallbackKeyAlgorithms(r, PHONE))).toEqual([]);
    expect((await db.read((r) => selectFallbackKey(r, PHONE, 'signed_curve25519')))?.used).toBe(
      true,
    );
    await db.transact((trx) => upsertFallbackKey(trx, PHONE, otk('F2')));
    expect(await db.read((r) => selectFallbackKey(r, PHONE, 'signed_curve25519'))).toEqual({
      ...otk('F2'),
      used: false,
    });
    expect(await db.transact((trx) => takeFallbackKey(trx, LAPTOP, 'signed_curve25519'))).toBe(
      undefined,
    );
  });
});

describe('cross-signing keys and signatures', () => {
  it('keeps one key per user and usage, and signatures per signer key', async () => {
    const db = await open();
    await db.transact(async (trx) => {
      await upsertCrossSigningKey(trx, {
        userId: ALICE,
        usage: 'master',
        publicKey: 'M1',
        keyJson: '{}',
      });
      await upsertCrossSigningKey(trx, {
        userId: ALICE,
        usage: 'master',
        publicKey: 'M2',
        keyJson: '{"a":1}',
      });
      await upsertCrossSigningKey(trx, {
        userId: ALICE,
        usage: 'user_signing',
        publicKey: 'U',
        keyJson: '{}',
      });
      await upsertCrossSigningKey(trx, {
        userId: BOB,
        usage: 'master',
        publicKey: 'B',
        keyJson: '{}',
      });
    });
    const alice = await db.read((r) => selectCrossSigningKeysOfUser(r, ALICE));
    expect(alice.get('master')).toEqual({
      userId: ALICE,
      usage: 'master',
      publicKey: 'M2',
      keyJson: '{"a":1}',
    });
    expect([...alice.keys()].sort()).toEqual(['master', 'user_signing']);
    expect(
      (await db.read((r) => selectCrossSigningKeys(r, [ALICE, BOB], ['master'])))
        .map((k) => k.publicKey)
        .sort(),
    ).toEqual(['B', 'M2']);

    const signature = (signerUserId: string, signerKeyId: string, value: string) => ({
      userId: ALICE,
      keyId: 'PHONE',
      signerUserId,
      signerKeyId,
      signature: value,
    });
    await db.transact((trx) =>
      upsertKeySignatures(trx, [
        signature(ALICE, 'ed25519:SSK', 'one'),
        signature(ALICE, 'ed25519:SSK', 'two'),
        signature(BOB, 'ed25519:BUSK', 'bob'),
      ]),
    );
    expect(await db.read((r) => selectKeySignatures(r, ALICE, ['PHONE'], [ALICE]))).toEqual([
      signature(ALICE, 'ed25519:SSK', 'two'),
    ]);
    expect(
      await db.read((r) => selectKeySignatures(r, ALICE, ['PHONE'], [ALICE, BOB])),
    ).toHaveLength(2);
  });
});

describe('first master key', () => {
  it('is stored only while the user has none', async () => {
    const db = await open();
    const master = (publicKey: string) => ({
      userId: ALICE,
      usage: 'master' as const,
      publicKey,
      keyJson: '{}',
    });
    expect(await db.transact((trx) => insertMasterKeyIfAbsent(trx, master('M1')))).toBe(true);
    expect(await db.transact((trx) => insertMasterKeyIfAbsent(trx, master('M2')))).toBe(false);
    expect(
      (await db.read((r) => selectCrossSigningKeysOfUser(r, ALICE))).get('master')?.publicKey,
    ).toBe('M1');
  });
});

describe('deleting devices', () => {
  it('deletes their identity, one-time and fallback keys and the signatures of them, no one else’s', async () => {
    const db = await open();
    await db.transact(async (trx) => {
      for (const device of [PHONE, LAPTOP]) {
        await upsertDeviceKeys(trx, ALICE, device.deviceId, '{}');
        await insertOneTimeKeys(trx, device, [otk('A')]);
        await upsertFallbackKey(trx, device, otk('F'));
        await upsertKeySignatures(trx, [
          {
            userId: ALICE,
            keyId: device.deviceId,
            signerUserId: ALICE,
            signerKeyId: 'ed25519:S',
            signature: 's',
          },
        ]);
      }
    });
    await db.transact((trx) => deleteDevices(trx, ALICE, ['PHONE']));
    const state = (device: typeof PHONE) =>
      db.read(async (r) => ({
        keys: await selectDeviceKeysJson(r, ALICE, device.deviceId),
        counts: await countOneTimeKeys(r, device),
        fallback: await selectUnusedFallbackKeyAlgorithms(r, device),
        signatures: (await selectKeySignatures(r, ALICE, [device.deviceId], [ALICE])).length,
      }));
    expect(await state(PHONE)).toEqual({
      keys: undefined,
      counts: {},
      fallback: [],
      signatures: 0,
    });
    expect(await state(LAPTOP)).toEqual({
      keys: '{}',
      counts: { signed_curve25519: 1 },
      fallback: ['signed_curve25519'],
      signatures: 1,
    });
  });
});
