import { afterEach, describe, expect, it } from 'vitest';
import {
  openAccountServices,
  type TestAccountServices,
} from '../../../test/helpers/account-services.js';
import type { KeyBackup, KeyBackupData } from './key-backup.js';

const ALGORITHM = 'm.megolm_backup.v1.curve25519-aes-sha2';
const ROOM_A = '!a:alpha.test';
const ROOM_B = '!b:alpha.test';
const opened: TestAccountServices[] = [];

afterEach(async () => {
  while (opened.length > 0) await opened.pop()?.close();
});

async function open(): Promise<{ backup: KeyBackup; alice: string; bob: string }> {
  const t = await openAccountServices();
  opened.push(t);
  const create = async (localpart: string) =>
    (await t.services.registration.createAccount({ localpart, isAdmin: false, isGuest: false }))
      .userId;
  return { backup: t.services.keyBackup, alice: await create('alice'), bob: await create('bob') };
}

function key(
  firstMessageIndex: number,
  options: { forwarded?: number; verified?: boolean; data?: string } = {},
): KeyBackupData {
  return {
    first_message_index: firstMessageIndex,
    forwarded_count: options.forwarded ?? 0,
    is_verified: options.verified ?? false,
    session_data: { ciphertext: options.data ?? `c${firstMessageIndex}`, mac: 'm', ephemeral: 'e' },
  };
}

describe('key backup versions', () => {
  it('numbers versions per user, never reusing a deleted one; the current is the latest live', async () => {
    const { backup, alice, bob } = await open();
    expect(await backup.createVersion(alice, ALGORITHM, { public_key: 'k1' })).toBe('1');
    expect(await backup.createVersion(alice, ALGORITHM, { public_key: 'k2' })).toBe('2');
    expect(await backup.createVersion(bob, ALGORITHM, { public_key: 'b1' })).toBe('1');
    await backup.deleteVersion(alice, '2');
    expect((await backup.getVersion(alice)).version).toBe('1');
    expect(await backup.createVersion(alice, ALGORITHM, { public_key: 'k3' })).toBe('3');
    expect(await backup.getVersion(alice)).toEqual({
      algorithm: ALGORITHM,
      auth_data: { public_key: 'k3' },
      count: 0,
      etag: '0',
      version: '3',
    });
    await expect(backup.getVersion(alice, '2')).rejects.toMatchObject({ errcode: 'M_NOT_FOUND' });
    // Deleting again succeeds; a version never created is 404.
    await backup.deleteVersion(alice, '2');
    await expect(backup.deleteVersion(alice, '9')).rejects.toMatchObject({
      errcode: 'M_NOT_FOUND',
    });
  });

  it('concurrent creates get distinct versions', async () => {
    const { backup, alice } = await open();
    const versions = await Promise.all(
      Array.from({ length: 6 }, (_, i) => backup.createVersion(alice, ALGORITHM, { i })),
    );
    expect([...versions].sort()).toEqual(['1', '2', '3', '4', '5', '6']);
  });

  it('updates auth_data only when the algorithm and the body version match', async () => {
    const { backup, alice } = await open();
    await backup.createVersion(alice, ALGORITHM, { public_key: 'old' });
    await expect(
      backup.updateVersion(alice, '1', { algorithm: 'org.example.other', authData: {} }),
    ).rejects.toMatchObject({ errcode: 'M_INVALID_PARAM', status: 400 });
    await expect(
      backup.updateVersion(alice, '1', { algorithm: ALGORITHM, authData: {}, version: '2' }),
    ).rejects.toMatchObject({ errcode: 'M_INVALID_PARAM' });
    await backup.updateVersion(alice, '1', {
      algorithm: ALGORITHM,
      authData: { public_key: 'new' },
      version: '1',
    });
    expect((await backup.getVersion(alice, '1')).auth_data).toEqual({ public_key: 'new' });
  });
});

describe('key backup keys', () => {
  it('stores keys at all levels, counts them, and changes the etag only when keys change', async () => {
    const { backup, alice } = await open();
    await backup.createVersion(alice, ALGORITHM, {});
    const first = await backup.putKeys(alice, '1', {
      [ROOM_A]: { s1: key(3), s2: key(0) },
      [ROOM_B]: { s3: key(1) },
    });
    expect(first.count).toBe(3);
    expect(first.etag).not.toBe('0');
    expect(await backup.getRoomKeys(alice, '1', ROOM_A)).toEqual({
      sessions: { s1: key(3), s2: key(0) },
    });
    expect(await backup.getSessionKey(alice, '1', ROOM_B, 's3')).toEqual(key(1));
    expect((await backup.getAllKeys(alice, '1')).rooms).toEqual({
      [ROOM_A]: { sessions: { s1: key(3), s2: key(0) } },
      [ROOM_B]: { sessions: { s3: key(1) } },
    });
    // An upload that loses to what is stored changes nothing.
    const same = await backup.putKeys(alice, '1', { [ROOM_A]: { s1: key(5) } });
    expect(same).toEqual(first);
    // One that wins replaces the key and changes the etag.
    const better = await backup.putKeys(alice, '1', { [ROOM_A]: { s1: key(2, { data: 'x' }) } });
    expect(better.count).toBe(3);
    expect(better.etag).not.toBe(first.etag);
    expect(await backup.getSessionKey(alice, '1', ROOM_A, 's1')).toEqual(key(2, { data: 'x' }));
    expect((await backup.getVersion(alice)).etag).toBe(better.etag);
  });

  it('applies the replacement rule: verified, then first_message_index, then forwarded_count', async () => {
    const { backup, alice } = await open();
    await backup.createVersion(alice, ALGORITHM, {});
    const put = (k: KeyBackupData) => backup.putKeys(alice, '1', { [ROOM_A]: { s: k } });
    const stored = () => backup.getSessionKey(alice, '1', ROOM_A, 's');
    await put(key(5, { forwarded: 3, verified: true, data: 'verified' }));
    await put(key(0, { forwarded: 0, verified: false, data: 'unverified' }));
    expect((await stored()).session_data.ciphertext).toBe('verified');
    await put(key(4, { forwarded: 9, verified: true, data: 'earlier' }));
    expect((await stored()).session_data.ciphertext).toBe('earlier');
    await put(key(4, { forwarded: 1, verified: true, data: 'fewer-forwards' }));
    expect((await stored()).session_data.ciphertext).toBe('fewer-forwards');
    await put(key(4, { forwarded: 1, verified: true, data: 'tie' }));
    expect((await stored()).session_data.ciphertext).toBe('fewer-forwards');
  });

  it('writes only to the current version; reads and deletes work on any live version', async () => {
    const { backup, alice } = await open();
    await expect(backup.putKeys(alice, '1', { [ROOM_A]: { s: key(0) } })).rejects.toMatchObject({
      errcode: 'M_NOT_FOUND',
    });
    await backup.createVersion(alice, ALGORITHM, {});
    await backup.putKeys(alice, '1', { [ROOM_A]: { s: key(0) } });
    await backup.createVersion(alice, ALGORITHM, {});
    await expect(backup.putKeys(alice, '1', { [ROOM_A]: { t: key(0) } })).rejects.toMatchObject({
      errcode: 'M_WRONG_ROOM_KEYS_VERSION',
      status: 403,
      extras: { current_version: '2' },
    });
    expect(await backup.getRoomKeys(alice, '1', ROOM_A)).toEqual({ sessions: { s: key(0) } });
    expect(await backup.deleteKeys(alice, '1', { roomId: ROOM_A })).toMatchObject({ count: 0 });
    await expect(backup.getAllKeys(alice, '7')).rejects.toMatchObject({ errcode: 'M_NOT_FOUND' });
    await expect(backup.getAllKeys(alice, 'x')).rejects.toMatchObject({ errcode: 'M_NOT_FOUND' });
  });

  it('deletes keys by session, room or all; deleting nothing keeps the etag', async () => {
    const { backup, alice } = await open();
    await backup.createVersion(alice, ALGORITHM, {});
    await backup.putKeys(alice, '1', {
      [ROOM_A]: { s1: key(0), s2: key(0) },
      [ROOM_B]: { s3: key(0), s4: key(0) },
    });
    const one = await backup.deleteKeys(alice, '1', { roomId: ROOM_A, sessionId: 's1' });
    expect(one.count).toBe(3);
    expect(await backup.deleteKeys(alice, '1', { roomId: ROOM_A, sessionId: 's1' })).toEqual(one);
    await expect(backup.getSessionKey(alice, '1', ROOM_A, 's1')).rejects.toMatchObject({
      errcode: 'M_NOT_FOUND',
    });
    expect((await backup.deleteKeys(alice, '1', { roomId: ROOM_B })).count).toBe(1);
    const all = await backup.deleteKeys(alice, '1');
    expect(all.count).toBe(0);
    expect(await backup.getAllKeys(alice, '1')).toEqual({ rooms: {} });
    expect(await backup.getRoomKeys(alice, '1', ROOM_A)).toEqual({ sessions: {} });
  });

  it('deleting a version deletes its keys; users never see each other’s backups', async () => {
    const { backup, alice, bob } = await open();
    await backup.createVersion(alice, ALGORITHM, {});
    await backup.createVersion(bob, ALGORITHM, {});
    await backup.putKeys(alice, '1', { [ROOM_A]: { s: key(0, { data: 'alice' }) } });
    await backup.putKeys(bob, '1', { [ROOM_A]: { s: key(0, { data: 'bob' }) } });
    expect((await backup.getSessionKey(bob, '1', ROOM_A, 's')).session_data.ciphertext).toBe('bob');
    await backup.deleteVersion(alice, '1');
    await backup.createVersion(alice, ALGORITHM, {});
    expect((await backup.getVersion(alice)).count).toBe(0);
    expect((await backup.getVersion(bob)).count).toBe(1);
  });

  it('concurrent uploads of the same sessions all succeed and keep the best key', async () => {
    const { backup, alice } = await open();
    await backup.createVersion(alice, ALGORITHM, {});
    const results = await Promise.all(
      [4, 1, 3, 0, 2].map((index) =>
        backup.putKeys(alice, '1', { [ROOM_A]: { s: key(index), [`own${index}`]: key(index) } }),
      ),
    );
    expect(results.every((result) => result.count >= 2)).toBe(true);
    expect(await backup.getSessionKey(alice, '1', ROOM_A, 's')).toEqual(key(0));
    expect((await backup.getVersion(alice)).count).toBe(6);
  });

  it('forgetting a user deletes every key and version', async () => {
    const { backup, alice, bob } = await open();
    await backup.createVersion(alice, ALGORITHM, {});
    await backup.createVersion(bob, ALGORITHM, {});
    await backup.putKeys(alice, '1', { [ROOM_A]: { s: key(0) } });
    await backup.putKeys(bob, '1', { [ROOM_A]: { s: key(0) } });
    await backup.forgetUser(alice);
    await expect(backup.getVersion(alice)).rejects.toMatchObject({ errcode: 'M_NOT_FOUND' });
    await expect(backup.getAllKeys(alice, '1')).rejects.toMatchObject({ errcode: 'M_NOT_FOUND' });
    expect((await backup.getVersion(bob)).count).toBe(1);
  });

  it('refuses oversized session_data and auth_data with M_TOO_LARGE, storing nothing', async () => {
    const { backup, alice } = await open();
    await expect(
      backup.createVersion(alice, ALGORITHM, { big: 'x'.repeat(70_000) }),
    ).rejects.toMatchObject({ errcode: 'M_TOO_LARGE', status: 413 });
    await backup.createVersion(alice, ALGORITHM, {});
    const huge = { ...key(0), session_data: { ciphertext: 'x'.repeat(40_000) } };
    await expect(
      backup.putKeys(alice, '1', { [ROOM_A]: { ok: key(0), huge } }),
    ).rejects.toMatchObject({ errcode: 'M_TOO_LARGE' });
    expect(await backup.getVersion(alice)).toMatchObject({ version: '1', count: 0, etag: '0' });
  });
});
