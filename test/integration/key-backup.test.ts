import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountServer, type Json } from '../helpers/account-server.js';
import type { RoomUser } from '../helpers/room-users.js';
import { V3, createRoomUsers, enc } from '../helpers/room-users.js';

/** Server-side key backups over HTTP (spec: "Server-side key backups", key_backup.yaml). */
describe('key backup (room_keys)', () => {
  const ALGORITHM = 'm.megolm_backup.v1.curve25519-aes-sha2';
  const AUTH_DATA = {
    public_key: 'hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo',
    signatures: { '@alice:alpha.test': { 'ed25519:DEV': 'sig' } },
  };
  const ROOM = '!room:alpha.test';
  const OTHER_ROOM = '!other:alpha.test';
  let server: AccountServer;
  let names = 0;

  beforeAll(async () => {
    server = await AccountServer.start();
  });
  afterAll(async () => server?.stop());

  async function user(base = 'alice'): Promise<RoomUser> {
    names += 1;
    const [created] = await createRoomUsers(server, [`${base}${names}`]);
    return created;
  }

  function keyData(firstMessageIndex: number, extra: Record<string, unknown> = {}): Json {
    return {
      first_message_index: firstMessageIndex,
      forwarded_count: 0,
      is_verified: false,
      session_data: { ephemeral: 'eph', ciphertext: `ct${firstMessageIndex}`, mac: 'mac' },
      ...extra,
    };
  }

  async function createVersion(owner: RoomUser, authData: unknown = AUTH_DATA): Promise<string> {
    const body = await owner.ok('POST', '/room_keys/version', {
      algorithm: ALGORITHM,
      auth_data: authData,
    });
    expect(typeof body.version).toBe('string');
    return body.version as string;
  }

  const sessionPath = (version: string, roomId = ROOM, sessionId = 'sess1') =>
    `/room_keys/keys/${enc(roomId)}/${enc(sessionId)}?version=${enc(version)}`;
  const roomPath = (version: string, roomId = ROOM) =>
    `/room_keys/keys/${enc(roomId)}?version=${enc(version)}`;

  describe('versions', () => {
    it('has no current version until one is created', async () => {
      const alice = await user();
      expect(await alice.call('GET', '/room_keys/version')).toEqual({
        status: 404,
        body: { errcode: 'M_NOT_FOUND', error: 'No current backup version' },
      });
    });

    it('creates, reads, updates and deletes versions; the current is the latest not deleted', async () => {
      const alice = await user();
      const v1 = await createVersion(alice);
      const v2 = await createVersion(alice, { public_key: 'second' });
      expect(v2).not.toBe(v1);
      expect(await alice.ok('GET', '/room_keys/version')).toEqual({
        algorithm: ALGORITHM,
        auth_data: { public_key: 'second' },
        count: 0,
        etag: expect.any(String),
        version: v2,
      });
      expect(await alice.ok('GET', `/room_keys/version/${v1}`)).toMatchObject({
        auth_data: AUTH_DATA,
        version: v1,
      });

      expect(
        await alice.call('PUT', `/room_keys/version/${v1}`, {
          algorithm: ALGORITHM,
          auth_data: { public_key: 'updated' },
          version: v1,
        }),
      ).toEqual({ status: 200, body: {} });
      expect((await alice.ok('GET', `/room_keys/version/${v1}`)).auth_data).toEqual({
        public_key: 'updated',
      });

      expect(await alice.call('DELETE', `/room_keys/version/${v2}`)).toEqual({
        status: 200,
        body: {},
      });
      expect((await alice.ok('GET', '/room_keys/version')).version).toBe(v1);
      expect(await alice.call('GET', `/room_keys/version/${v2}`)).toEqual({
        status: 404,
        body: { errcode: 'M_NOT_FOUND', error: 'Unknown backup version' },
      });
      // Deleting a deleted version again succeeds; a version that never existed is 404.
      expect((await alice.call('DELETE', `/room_keys/version/${v2}`)).status).toBe(200);
      expect(await alice.call('DELETE', '/room_keys/version/999')).toMatchObject({
        status: 404,
        body: { errcode: 'M_NOT_FOUND' },
      });
      // A new version gets a fresh number, never a deleted one's.
      const v3 = await createVersion(alice);
      expect([v1, v2]).not.toContain(v3);
    });

    it('refuses an update whose algorithm or body version does not match, or an unknown version', async () => {
      const alice = await user();
      const version = await createVersion(alice);
      expect(
        await alice.call('PUT', `/room_keys/version/${version}`, {
          algorithm: 'org.example.other',
          auth_data: {},
        }),
      ).toEqual({
        status: 400,
        body: { errcode: 'M_INVALID_PARAM', error: 'Algorithm does not match' },
      });
      expect(
        await alice.call('PUT', `/room_keys/version/${version}`, {
          algorithm: ALGORITHM,
          auth_data: {},
          version: `${version}0`,
        }),
      ).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
      expect(
        await alice.call('PUT', '/room_keys/version/4242', { algorithm: ALGORITHM, auth_data: {} }),
      ).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
      expect((await alice.ok('GET', `/room_keys/version/${version}`)).auth_data).toEqual(AUTH_DATA);
    });

    it('validates the version body', async () => {
      const alice = await user();
      expect(
        await alice.call('POST', '/room_keys/version', { algorithm: ALGORITHM }),
      ).toMatchObject({ status: 400, body: { errcode: 'M_MISSING_PARAM' } });
      expect(
        await alice.call('POST', '/room_keys/version', { algorithm: ALGORITHM, auth_data: 'x' }),
      ).toMatchObject({ status: 400, body: { errcode: 'M_BAD_JSON' } });
      expect(
        await alice.call('POST', '/room_keys/version', {
          algorithm: ALGORITHM,
          auth_data: { big: 'x'.repeat(70_000) },
        }),
      ).toMatchObject({ status: 413, body: { errcode: 'M_TOO_LARGE' } });
      expect(await alice.call('GET', '/room_keys/version')).toMatchObject({ status: 404 });
    });

    it('needs an access token', async () => {
      expect(await server.call('GET', `${V3}/room_keys/version`)).toMatchObject({
        status: 401,
        body: { errcode: 'M_MISSING_TOKEN' },
      });
    });
  });

  describe('keys', () => {
    it('stores and reads keys at the session, room and whole-backup levels with count and etag', async () => {
      const alice = await user();
      const version = await createVersion(alice);
      const initialEtag = (await alice.ok('GET', '/room_keys/version')).etag;

      const one = await alice.ok('PUT', sessionPath(version), keyData(3));
      expect(one).toEqual({ etag: expect.any(String), count: 1 });
      expect(one.etag).not.toBe(initialEtag);

      const room = await alice.ok('PUT', roomPath(version), {
        sessions: { sess2: keyData(0), sess3: keyData(1) },
      });
      expect(room.count).toBe(3);
      expect(room.etag).not.toBe(one.etag);

      const all = await alice.ok('PUT', `/room_keys/keys?version=${version}`, {
        rooms: { [OTHER_ROOM]: { sessions: { sess4: keyData(7) } } },
      });
      expect(all.count).toBe(4);

      expect(await alice.ok('GET', sessionPath(version))).toEqual(keyData(3));
      expect(await alice.ok('GET', roomPath(version))).toEqual({
        sessions: { sess1: keyData(3), sess2: keyData(0), sess3: keyData(1) },
      });
      expect(await alice.ok('GET', `/room_keys/keys?version=${version}`)).toEqual({
        rooms: {
          [ROOM]: { sessions: { sess1: keyData(3), sess2: keyData(0), sess3: keyData(1) } },
          [OTHER_ROOM]: { sessions: { sess4: keyData(7) } },
        },
      });
      expect(await alice.ok('GET', '/room_keys/version')).toMatchObject({
        count: 4,
        etag: all.etag,
      });
    });

    it('keeps the better key of a session by the spec rule; the etag moves only on a change', async () => {
      const alice = await user();
      const version = await createVersion(alice);
      const stored = await alice.ok('PUT', sessionPath(version), keyData(5, { is_verified: true }));
      // Unverified loses to verified even from an earlier index.
      expect(await alice.ok('PUT', sessionPath(version), keyData(0))).toEqual(stored);
      expect((await alice.ok('GET', sessionPath(version))).first_message_index).toBe(5);
      // Verified from an earlier index wins.
      const better = await alice.ok('PUT', sessionPath(version), keyData(2, { is_verified: true }));
      expect(better.etag).not.toBe(stored.etag);
      expect(better.count).toBe(1);
      // Same index: fewer forwards wins, more forwards loses.
      await alice.ok(
        'PUT',
        sessionPath(version),
        keyData(2, { is_verified: true, forwarded_count: 4 }),
      );
      expect((await alice.ok('GET', sessionPath(version))).forwarded_count).toBe(0);
    });

    it('missing session is 404; missing room is an empty sessions object', async () => {
      const alice = await user();
      const version = await createVersion(alice);
      expect(await alice.call('GET', sessionPath(version, ROOM, 'nope'))).toMatchObject({
        status: 404,
        body: { errcode: 'M_NOT_FOUND' },
      });
      expect(await alice.ok('GET', roomPath(version, '!empty:alpha.test'))).toEqual({
        sessions: {},
      });
      expect(await alice.ok('GET', `/room_keys/keys?version=${version}`)).toEqual({ rooms: {} });
    });

    it('writes only to the current version: 403 M_WRONG_ROOM_KEYS_VERSION with current_version', async () => {
      const alice = await user();
      const old = await createVersion(alice);
      await alice.ok('PUT', sessionPath(old), keyData(0));
      const current = await createVersion(alice);
      expect(await alice.call('PUT', sessionPath(old, ROOM, 'late'), keyData(0))).toEqual({
        status: 403,
        body: {
          errcode: 'M_WRONG_ROOM_KEYS_VERSION',
          error: 'Wrong backup version.',
          current_version: current,
        },
      });
      // The old version can still be read and cleaned up.
      expect(await alice.ok('GET', sessionPath(old))).toEqual(keyData(0));
      expect(await alice.ok('DELETE', roomPath(old))).toMatchObject({ count: 0 });
    });

    it('with no backup at all, uploads and reads are 404', async () => {
      const alice = await user();
      expect(await alice.call('PUT', sessionPath('1'), keyData(0))).toMatchObject({
        status: 404,
        body: { errcode: 'M_NOT_FOUND' },
      });
      expect(await alice.call('GET', roomPath('1'))).toMatchObject({
        status: 404,
        body: { errcode: 'M_NOT_FOUND', error: 'Unknown backup version' },
      });
    });

    it('deletes keys of a session, a room, or the whole version, and deleting a version deletes its keys', async () => {
      const alice = await user();
      const version = await createVersion(alice);
      await alice.ok('PUT', `/room_keys/keys?version=${version}`, {
        rooms: {
          [ROOM]: { sessions: { a: keyData(0), b: keyData(0) } },
          [OTHER_ROOM]: { sessions: { c: keyData(0), d: keyData(0) } },
        },
      });
      const session = await alice.ok('DELETE', sessionPath(version, ROOM, 'a'));
      expect(session.count).toBe(3);
      const room = await alice.ok('DELETE', roomPath(version, OTHER_ROOM));
      expect(room.count).toBe(1);
      expect(room.etag).not.toBe(session.etag);
      expect(await alice.ok('GET', `/room_keys/keys?version=${version}`)).toEqual({
        rooms: { [ROOM]: { sessions: { b: keyData(0) } } },
      });
      expect((await alice.ok('DELETE', `/room_keys/keys?version=${version}`)).count).toBe(0);

      await alice.ok('PUT', sessionPath(version), keyData(0));
      await alice.ok('DELETE', `/room_keys/version/${version}`);
      expect((await alice.call('GET', sessionPath(version))).status).toBe(404);
      const next = await createVersion(alice);
      expect((await alice.ok('GET', `/room_keys/version/${next}`)).count).toBe(0);
    });

    it('validates the version query, the path and the key shapes', async () => {
      const alice = await user();
      const version = await createVersion(alice);
      expect(await alice.call('PUT', `/room_keys/keys/${enc(ROOM)}/s`, keyData(0))).toMatchObject({
        status: 400,
        body: { errcode: 'M_MISSING_PARAM' },
      });
      expect(await alice.call('GET', '/room_keys/keys')).toMatchObject({
        status: 400,
        body: { errcode: 'M_MISSING_PARAM' },
      });
      expect(await alice.call('PUT', sessionPath(version, 'not-a-room'), keyData(0))).toMatchObject(
        { status: 400, body: { errcode: 'M_INVALID_PARAM' } },
      );
      for (const bad of [
        { ...keyData(0), first_message_index: -1 },
        { ...keyData(0), forwarded_count: 1.5 },
        { ...keyData(0), is_verified: 'yes' },
        { ...keyData(0), session_data: 'opaque' },
      ]) {
        expect(await alice.call('PUT', sessionPath(version), bad)).toMatchObject({
          status: 400,
          body: { errcode: 'M_BAD_JSON' },
        });
      }
      expect(
        await alice.call('PUT', `/room_keys/keys?version=${version}`, {
          rooms: { 'not-a-room': { sessions: { s: keyData(0) } } },
        }),
      ).toMatchObject({ status: 400 });
      expect(
        await alice.call('PUT', sessionPath(version), {
          ...keyData(0),
          session_data: { ciphertext: 'x'.repeat(40_000) },
        }),
      ).toMatchObject({ status: 413, body: { errcode: 'M_TOO_LARGE' } });
      expect((await alice.ok('GET', '/room_keys/version')).count).toBe(0);
    });

    it('backups are per user', async () => {
      const alice = await user('alice');
      const bob = await user('bob');
      const aliceVersion = await createVersion(alice);
      await alice.ok('PUT', sessionPath(aliceVersion), keyData(0));
      expect((await bob.call('GET', '/room_keys/version')).status).toBe(404);
      expect((await bob.call('GET', sessionPath(aliceVersion))).status).toBe(404);
      expect((await bob.call('DELETE', `/room_keys/version/${aliceVersion}`)).status).toBe(404);
      const bobVersion = await createVersion(bob);
      await bob.ok('PUT', sessionPath(bobVersion), keyData(9));
      expect(await alice.ok('GET', sessionPath(aliceVersion))).toEqual(keyData(0));
      expect(await bob.ok('GET', sessionPath(bobVersion))).toEqual(keyData(9));
    });
  });

  it('deactivating the account deletes its backups', async () => {
    const carol = await user('carol');
    const localpart = carol.userId.slice(1, carol.userId.indexOf(':'));
    const version = await createVersion(carol);
    await carol.ok('PUT', sessionPath(version), keyData(0));
    const challenge = await carol.call('POST', '/account/deactivate', {});
    expect(challenge.status).toBe(401);
    await carol.ok('POST', '/account/deactivate', {
      auth: {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user: localpart },
        password: `${localpart}-password`,
        session: challenge.body.session,
      },
    });
    const rows = await server.context.db.read(async (db) => ({
      keys: await db
        .selectFrom('key_backup_sessions')
        .select('session_id')
        .where('user_id', '=', carol.userId)
        .execute(),
      live: await db
        .selectFrom('key_backup_versions')
        .select('version')
        .where('user_id', '=', carol.userId)
        .where('deleted', '=', 0)
        .execute(),
    }));
    expect(rows).toEqual({ keys: [], live: [] });
  });
});
