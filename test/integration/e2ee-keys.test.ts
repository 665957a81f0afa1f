import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountServer, type Json } from '../helpers/account-server.js';
import { RoomUser, V3, createRoomUsers, enc } from '../helpers/room-users.js';
import {
  Ed25519Key,
  TestCrossSigningKeys as CrossSigningKeys,
  TestDeviceKeys,
} from '../helpers/test-e2ee-keys.js';

// Keys and signatures are made by test/helpers/test-e2ee-keys.ts with node:crypto and a canonical
// JSON written for the tests, independently of the server's own signing code.

/** A device of a registered user, with its own ed25519 key, as a client makes one. */
class TestDevice extends TestDeviceKeys {
  constructor(readonly user: RoomUser) {
    super(user.userId, user.deviceId);
  }

  upload(body: Json) {
    return this.user.call('POST', '/keys/upload', body);
  }
}

describe('end-to-end encryption keys over HTTP', () => {
  let server: AccountServer;
  let names = 0;

  beforeAll(async () => {
    server = await AccountServer.start();
  });
  afterAll(async () => server?.stop());

  /** New users with unique names (`alice1`, `bob1`, …), so tests do not see each other. */
  async function users<const N extends readonly string[]>(...base: N) {
    names += 1;
    return createRoomUsers(
      server,
      base.map((name) => `${name}${names}`),
    ) as Promise<{ -readonly [K in keyof N]: RoomUser }>;
  }

  async function newDevice(user: RoomUser, extra: Json = {}): Promise<RoomUser> {
    const localpart = user.userId.slice(1, user.userId.indexOf(':'));
    const body = await server.login(localpart, `${localpart}-password`, extra);
    return new RoomUser(server, user.userId, body.access_token, body.device_id);
  }

  const passwordAuth = (user: RoomUser, session?: string) => ({
    type: 'm.login.password',
    identifier: { type: 'm.id.user', user: user.userId },
    password: `${user.userId.slice(1, user.userId.indexOf(':'))}-password`,
    ...(session === undefined ? {} : { session }),
  });

  const query = (user: RoomUser, deviceKeys: Record<string, string[]>) =>
    user.ok('POST', '/keys/query', { device_keys: deviceKeys });
  const claim = (user: RoomUser, oneTimeKeys: Record<string, Record<string, string>>) =>
    user.ok('POST', '/keys/claim', { one_time_keys: oneTimeKeys });
  const sync = (user: RoomUser, since?: string): Promise<Json> =>
    user.ok('GET', `/sync${since === undefined ? '' : `?since=${enc(since)}`}`);

  /** A room both users are joined to. */
  async function sharedRoom(a: RoomUser, b: RoomUser): Promise<string> {
    const roomId = await a.createRoom({ invite: [b.userId] });
    await b.join(roomId);
    return roomId;
  }

  describe('POST /keys/upload', () => {
    it('stores device keys, one-time keys and a fallback key; /keys/query and /sync show them', async () => {
      const [alice, bob] = await users('alice', 'bob');
      const device = new TestDevice(alice);
      await alice.ok('PUT', `/devices/${alice.deviceId}`, { display_name: 'Phone' });
      const fallback = device.oneTimeKeys(1, { fallback: true });
      const response = await device.upload({
        device_keys: device.deviceKeys(),
        one_time_keys: device.oneTimeKeys(5),
        fallback_keys: fallback,
      });
      expect(response).toEqual({
        status: 200,
        body: { one_time_key_counts: { signed_curve25519: 5 } },
      });

      const keys = await query(bob, { [alice.userId]: [] });
      expect(keys.device_keys).toEqual({
        [alice.userId]: {
          [alice.deviceId]: { ...device.deviceKeys(), unsigned: { device_display_name: 'Phone' } },
        },
      });
      expect(keys.failures).toEqual({});

      const synced = await sync(alice);
      expect(synced.device_one_time_keys_count).toEqual({ signed_curve25519: 5 });
      expect(synced.device_unused_fallback_key_types).toEqual(['signed_curve25519']);
    });

    it('reports signed_curve25519: 0 before any key, in /keys/upload and /sync', async () => {
      const [alice] = await users('alice');
      expect(await alice.ok('POST', '/keys/upload', {})).toEqual({
        one_time_key_counts: { signed_curve25519: 0 },
      });
      const synced = await sync(alice);
      expect(synced.device_one_time_keys_count).toEqual({ signed_curve25519: 0 });
      expect(synced.device_unused_fallback_key_types).toEqual([]);
    });

    it('rejects device keys of another user or device, badly named, or not self-signed', async () => {
      const [alice, bob] = await users('alice', 'bob');
      const device = new TestDevice(alice);
      const other = new TestDevice(bob);
      const wrongKey = new Ed25519Key();
      const cases: [string, Json][] = [
        ['another user', device.deviceKeys({ user_id: bob.userId })],
        ['another device', device.deviceKeys({ device_id: 'OTHERDEVICE' })],
        [
          'a key named for another device',
          device.deviceKeys({
            keys: {
              'ed25519:OTHER': device.signingKey.publicKey,
              [`ed25519:${alice.deviceId}`]: device.signingKey.publicKey,
            },
          }),
        ],
        [
          'no ed25519 key',
          device.deviceKeys({ keys: { [`curve25519:${alice.deviceId}`]: device.curveKey } }),
        ],
        [
          'a signature by another key',
          wrongKey.sign(
            { ...device.deviceKeys(), signatures: {} },
            alice.userId,
            `ed25519:${alice.deviceId}`,
          ),
        ],
        ['a tampered object', { ...device.deviceKeys(), algorithms: ['m.megolm.v1.aes-sha2'] }],
        ["another device's keys", other.deviceKeys()],
      ];
      for (const [what, deviceKeys] of cases) {
        const response = await device.upload({ device_keys: deviceKeys });
        expect(response, what).toMatchObject({
          status: 400,
          body: { errcode: 'M_INVALID_PARAM' },
        });
      }
      // Shapes: a missing field, a wrong type.
      const { signatures: _signatures, ...unsigned } = device.deviceKeys();
      expect(await device.upload({ device_keys: unsigned })).toMatchObject({
        status: 400,
        body: { errcode: 'M_MISSING_PARAM' },
      });
      expect(
        await device.upload({ device_keys: { ...device.deviceKeys(), keys: [] } }),
      ).toMatchObject({
        status: 400,
        body: { errcode: 'M_BAD_JSON' },
      });
      expect(await device.upload({ one_time_keys: 'nope' })).toMatchObject({
        status: 400,
        body: { errcode: 'M_BAD_JSON' },
      });
      expect(
        await server.call('POST', `${V3}/keys/upload`, { token: alice.token, rawBody: '{nope' }),
      ).toMatchObject({ status: 400, body: { errcode: 'M_NOT_JSON' } });
      expect(await server.call('POST', `${V3}/keys/upload`, { body: {} })).toMatchObject({
        status: 401,
        body: { errcode: 'M_MISSING_TOKEN' },
      });
      // Nothing was stored.
      expect((await query(bob, { [alice.userId]: [] })).device_keys).toEqual({
        [alice.userId]: {},
      });
    });

    it('accepts the same device keys again, but not different ones (nothing of the request is stored)', async () => {
      const [alice] = await users('alice');
      const device = new TestDevice(alice);
      await alice.ok('POST', '/keys/upload', { device_keys: device.deviceKeys() });
      expect(await device.upload({ device_keys: device.deviceKeys() })).toMatchObject({
        status: 200,
      });
      const replacement = new TestDevice(alice);
      const response = await replacement.upload({
        device_keys: replacement.deviceKeys(),
        one_time_keys: replacement.oneTimeKeys(3),
      });
      expect(response).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
      const keys = await query(alice, { [alice.userId]: [alice.deviceId] });
      expect(keys.device_keys[alice.userId][alice.deviceId].keys).toEqual(device.deviceKeys().keys);
      expect((await sync(alice)).device_one_time_keys_count).toEqual({ signed_curve25519: 0 });
    });

    it('one-time keys: the same ID again is ignored, with other content it is a 400 and nothing is stored', async () => {
      const [alice] = await users('alice');
      const device = new TestDevice(alice);
      const keys = device.oneTimeKeys(2);
      expect((await device.upload({ one_time_keys: keys })).body.one_time_key_counts).toEqual({
        signed_curve25519: 2,
      });
      expect((await device.upload({ one_time_keys: keys })).body.one_time_key_counts).toEqual({
        signed_curve25519: 2,
      });
      const [name] = Object.keys(keys) as [string];
      const changed = { ...device.oneTimeKeys(1), [name]: { ...keys[name], key: 'other' } };
      expect(await device.upload({ one_time_keys: changed })).toMatchObject({
        status: 400,
        body: { errcode: 'M_INVALID_PARAM' },
      });
      expect(await device.upload({ one_time_keys: { nocolon: 'abc' } })).toMatchObject({
        status: 400,
        body: { errcode: 'M_INVALID_PARAM' },
      });
      expect(
        await device.upload({
          one_time_keys: { 'signed_curve25519:F': { key: 'k', signatures: {}, n: 1.5 } },
        }),
      ).toMatchObject({ status: 400, body: { errcode: 'M_BAD_JSON' } });
      // Other algorithms count separately; a plain string key is fine.
      expect((await device.upload({ one_time_keys: { 'curve25519:PLAIN': 'abc' } })).body).toEqual({
        one_time_key_counts: { signed_curve25519: 2, curve25519: 1 },
      });
    });

    it('bounds one request: at most 1000 one-time keys, one fallback key per algorithm', async () => {
      const [alice] = await users('alice');
      const device = new TestDevice(alice);
      const many: Record<string, string> = {};
      for (let i = 0; i < 1001; i++) many[`signed_curve25519:K${i}`] = `key${i}`;
      expect(await device.upload({ one_time_keys: many })).toMatchObject({
        status: 413,
        body: { errcode: 'M_TOO_LARGE' },
      });
      expect(
        await device.upload({
          fallback_keys: { 'signed_curve25519:A': 'a', 'signed_curve25519:B': 'b' },
        }),
      ).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    });
  });

  describe('POST /keys/claim', () => {
    it('hands out one-time keys oldest upload first, each once, then the fallback key (marked used, kept)', async () => {
      const [alice, bob] = await users('alice', 'bob');
      const device = new TestDevice(alice);
      const first = device.oneTimeKeys(1);
      const second = device.oneTimeKeys(1);
      await device.upload({ one_time_keys: first });
      await device.upload({ one_time_keys: second });
      const fallback = device.oneTimeKeys(1, { fallback: true });
      await device.upload({ fallback_keys: fallback });
      const request = { [alice.userId]: { [alice.deviceId]: 'signed_curve25519' } };

      expect(await claim(bob, request)).toEqual({
        failures: {},
        one_time_keys: { [alice.userId]: { [alice.deviceId]: first } },
      });
      expect((await claim(bob, request)).one_time_keys[alice.userId][alice.deviceId]).toEqual(
        second,
      );
      expect((await sync(alice)).device_unused_fallback_key_types).toEqual(['signed_curve25519']);
      // None left: the fallback key, as often as asked.
      for (let i = 0; i < 2; i++) {
        expect((await claim(bob, request)).one_time_keys[alice.userId][alice.deviceId]).toEqual(
          fallback,
        );
      }
      const synced = await sync(alice);
      expect(synced.device_one_time_keys_count).toEqual({ signed_curve25519: 0 });
      expect(synced.device_unused_fallback_key_types).toEqual([]);

      // The same fallback key again stays used; a new one is unused.
      await device.upload({ fallback_keys: fallback });
      expect((await sync(alice)).device_unused_fallback_key_types).toEqual([]);
      const next = device.oneTimeKeys(1, { fallback: true });
      await device.upload({ fallback_keys: next });
      expect((await sync(alice)).device_unused_fallback_key_types).toEqual(['signed_curve25519']);
      expect((await claim(bob, request)).one_time_keys[alice.userId][alice.deviceId]).toEqual(next);
    });

    it('two concurrent claims never get the same key', async () => {
      const [alice, bob, carol] = await users('alice', 'bob', 'carol');
      const device = new TestDevice(alice);
      await device.upload({ one_time_keys: device.oneTimeKeys(10) });
      const request = { [alice.userId]: { [alice.deviceId]: 'signed_curve25519' } };
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) => claim(i % 2 === 0 ? bob : carol, request)),
      );
      const claimed = results.flatMap((result) =>
        Object.keys(result.one_time_keys[alice.userId]?.[alice.deviceId] ?? {}),
      );
      expect(claimed).toHaveLength(10);
      expect(new Set(claimed).size).toBe(10);
    });

    it('leaves out unknown users, devices and algorithms; other servers go to failures', async () => {
      const [alice, bob] = await users('alice', 'bob');
      const device = new TestDevice(alice);
      await device.upload({ one_time_keys: device.oneTimeKeys(1) });
      const result = await claim(bob, {
        [alice.userId]: { [alice.deviceId]: 'curve25519', NODEVICE: 'signed_curve25519' },
        '@nobody:alpha.test': { X: 'signed_curve25519' },
        '@remote:other.test': { X: 'signed_curve25519' },
      });
      expect(result).toEqual({
        one_time_keys: {},
        failures: { 'other.test': { status: 503, message: expect.any(String) } },
      });
      expect(await bob.call('POST', '/keys/claim', { one_time_keys: { nope: {} } })).toMatchObject({
        status: 400,
        body: { errcode: 'M_INVALID_PARAM' },
      });
      expect(await bob.call('POST', '/keys/claim', {})).toMatchObject({
        status: 400,
        body: { errcode: 'M_MISSING_PARAM' },
      });
      expect(
        await bob.call('POST', '/keys/claim', { one_time_keys: { [alice.userId]: { D: 1 } } }),
      ).toMatchObject({ status: 400, body: { errcode: 'M_BAD_JSON' } });
    });
  });

  describe('POST /keys/query', () => {
    it('answers the devices asked for, every device for [], nothing for unknown ones', async () => {
      const [alice, bob] = await users('alice', 'bob');
      const phone = new TestDevice(alice);
      const laptop = new TestDevice(await newDevice(alice));
      await newDevice(alice); // a device without keys is not listed
      await phone.upload({ device_keys: phone.deviceKeys() });
      await laptop.upload({ device_keys: laptop.deviceKeys() });

      const all = await query(bob, { [alice.userId]: [] });
      expect(Object.keys(all.device_keys[alice.userId]).sort()).toEqual(
        [phone.deviceId, laptop.deviceId].sort(),
      );
      const one = await query(bob, { [alice.userId]: [laptop.deviceId, 'UNKNOWN'] });
      expect(one.device_keys).toEqual({
        [alice.userId]: { [laptop.deviceId]: laptop.deviceKeys() },
      });
      expect(await query(bob, { '@nobody:alpha.test': [], '@remote:other.test': [] })).toEqual({
        device_keys: { '@nobody:alpha.test': {} },
        failures: { 'other.test': { status: 503, message: expect.any(String) } },
        master_keys: {},
        self_signing_keys: {},
        user_signing_keys: {},
      });
    });

    it('rejects a missing or malformed device_keys and keys that are not user IDs', async () => {
      const [bob] = await users('bob');
      for (const [body, errcode] of [
        [{}, 'M_MISSING_PARAM'],
        [{ device_keys: [] }, 'M_BAD_JSON'],
        [{ device_keys: { '@a:alpha.test': 'all' } }, 'M_BAD_JSON'],
        [{ device_keys: { 'not-a-user': [] } }, 'M_INVALID_PARAM'],
      ] as const) {
        expect(await bob.call('POST', '/keys/query', body), JSON.stringify(body)).toMatchObject({
          status: 400,
          body: { errcode },
        });
      }
    });
  });

  describe('GET /keys/changes and device_lists', () => {
    it('lists users sharing a room whose keys changed between two tokens, and users who left', async () => {
      const [alice, bob, carol, dan] = await users('alice', 'bob', 'carol', 'dan');
      await sharedRoom(alice, bob);
      const carolRoom = await sharedRoom(alice, carol);
      const from = (await sync(alice)).next_batch as string;

      const bobDevice = new TestDevice(bob);
      await bobDevice.upload({ device_keys: bobDevice.deviceKeys() });
      const danDevice = new TestDevice(dan); // shares no room with Alice
      await danDevice.upload({ device_keys: danDevice.deviceKeys() });
      await carol.leave(carolRoom);
      const next = await sync(alice, from);
      expect(next.device_lists).toEqual({ changed: [bob.userId], left: [carol.userId] });

      const to = next.next_batch as string;
      expect(await alice.ok('GET', `/keys/changes?from=${enc(from)}&to=${enc(to)}`)).toEqual({
        changed: [bob.userId],
        left: [carol.userId],
      });
      // Uploading the same device keys again, or one-time keys, is no change.
      await bobDevice.upload({
        device_keys: bobDevice.deviceKeys(),
        one_time_keys: bobDevice.oneTimeKeys(2),
      });
      const later = (await sync(alice)).next_batch as string;
      expect(await alice.ok('GET', `/keys/changes?from=${enc(to)}&to=${enc(later)}`)).toEqual({
        changed: [],
        left: [],
      });
    });

    it('rejects tokens that are not sync tokens, and missing ones', async () => {
      const [alice] = await users('alice');
      const token = (await sync(alice)).next_batch as string;
      expect(await alice.call('GET', `/keys/changes?from=nope&to=${enc(token)}`)).toMatchObject({
        status: 400,
        body: { errcode: 'M_INVALID_PARAM' },
      });
      expect(await alice.call('GET', `/keys/changes?from=${enc(token)}`)).toMatchObject({
        status: 400,
        body: { errcode: 'M_MISSING_PARAM' },
      });
    });
  });

  describe('POST /keys/device_signing/upload', () => {
    it('first upload without auth; the same keys again without auth; new keys only with the password', async () => {
      const [alice, bob] = await users('alice', 'bob');
      await sharedRoom(alice, bob);
      const since = (await sync(bob)).next_batch as string;
      const keys = new CrossSigningKeys(alice.userId);
      expect(await alice.call('POST', '/keys/device_signing/upload', keys.body())).toEqual({
        status: 200,
        body: {},
      });
      // Bob's sync tells him Alice's keys changed.
      expect((await sync(bob, since)).device_lists.changed).toEqual([alice.userId]);

      const byBob = await query(bob, { [alice.userId]: [] });
      expect(byBob.master_keys).toEqual({ [alice.userId]: keys.body().master_key });
      expect(byBob.self_signing_keys).toEqual({ [alice.userId]: keys.body().self_signing_key });
      expect(byBob.user_signing_keys).toEqual({});
      const byAlice = await query(alice, { [alice.userId]: [] });
      expect(byAlice.user_signing_keys).toEqual({ [alice.userId]: keys.body().user_signing_key });

      // A retry of the same upload is idempotent.
      expect(await alice.call('POST', '/keys/device_signing/upload', keys.body())).toEqual({
        status: 200,
        body: {},
      });

      // Replacing the keys needs user-interactive auth.
      const replacement = new CrossSigningKeys(alice.userId);
      const challenge = await alice.call('POST', '/keys/device_signing/upload', replacement.body());
      expect(challenge).toMatchObject({
        status: 401,
        body: { flows: [{ stages: ['m.login.password'] }], session: expect.any(String) },
      });
      const session = challenge.body.session as string;
      const wrong = await alice.call('POST', '/keys/device_signing/upload', {
        ...replacement.body(),
        auth: { ...passwordAuth(alice, session), password: 'wrong' },
      });
      expect(wrong).toMatchObject({ status: 401, body: { errcode: 'M_FORBIDDEN' } });
      expect((await query(bob, { [alice.userId]: [] })).master_keys[alice.userId]).toEqual(
        keys.body().master_key,
      );
      expect(
        await alice.call('POST', '/keys/device_signing/upload', {
          ...replacement.body(),
          auth: passwordAuth(alice, session),
        }),
      ).toEqual({ status: 200, body: {} });
      expect((await query(bob, { [alice.userId]: [] })).master_keys[alice.userId]).toEqual(
        replacement.body().master_key,
      );
      // Only the self-signing key, signed by the stored master key: a change too, so auth again.
      const newSelfSigning = new Ed25519Key();
      const selfSigningOnly = {
        self_signing_key: replacement.key('self_signing', newSelfSigning),
      };
      expect(
        await alice.call('POST', '/keys/device_signing/upload', selfSigningOnly),
      ).toMatchObject({ status: 401 });
      expect(
        await alice.call('POST', '/keys/device_signing/upload', {
          ...selfSigningOnly,
          auth: passwordAuth(alice),
        }),
      ).toEqual({ status: 200, body: {} });
      expect(
        (await query(bob, { [alice.userId]: [] })).self_signing_keys[alice.userId].keys,
      ).toEqual({ [`ed25519:${newSelfSigning.publicKey}`]: newSelfSigning.publicKey });
    });

    it('of two concurrent first uploads, one wins; the other needs auth', async () => {
      const [alice, bob] = await users('alice', 'bob');
      const candidates = [new CrossSigningKeys(alice.userId), new CrossSigningKeys(alice.userId)];
      const responses = await Promise.all(
        candidates.map((keys) => alice.call('POST', '/keys/device_signing/upload', keys.body())),
      );
      const winners = responses.flatMap((response, i) => (response.status === 200 ? [i] : []));
      expect(winners).toHaveLength(1);
      const loser = responses[1 - (winners[0] as number)];
      expect([401, 403]).toContain(loser?.status);
      expect((await query(bob, { [alice.userId]: [] })).master_keys[alice.userId]).toEqual(
        candidates[winners[0] as number]?.body().master_key,
      );
    });

    it('checks each key: owner, usage, a single ed25519 key, the master signature', async () => {
      const [alice, bob] = await users('alice', 'bob');
      const keys = new CrossSigningKeys(alice.userId);
      const upload = (body: Json) => alice.call('POST', '/keys/device_signing/upload', body);
      const other = new CrossSigningKeys(bob.userId);
      const invalid: [string, Json][] = [
        ["another user's key", { master_key: other.key('master', other.master) }],
        [
          'the wrong usage',
          { ...keys.body(), self_signing_key: keys.key('user_signing', keys.selfSigning) },
        ],
        [
          'two keys',
          {
            master_key: {
              ...keys.key('master', keys.master),
              keys: {
                [`ed25519:${keys.master.publicKey}`]: keys.master.publicKey,
                [`ed25519:${keys.selfSigning.publicKey}`]: keys.selfSigning.publicKey,
              },
            },
          },
        ],
        [
          'a name that is not its public key',
          {
            master_key: {
              ...keys.key('master', keys.master),
              keys: { 'ed25519:abc': keys.master.publicKey },
            },
          },
        ],
      ];
      for (const [what, body] of invalid) {
        expect(await upload(body), what).toMatchObject({
          status: 400,
          body: { errcode: 'M_INVALID_PARAM' },
        });
      }
      // Self-signing key not signed by the master key.
      expect(
        await upload({
          ...keys.body(),
          self_signing_key: keys.key('self_signing', keys.selfSigning, false),
        }),
      ).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_SIGNATURE' } });
      // Signed by another master key.
      expect(
        await upload({
          ...keys.body(),
          user_signing_key: {
            ...other.key('user_signing', keys.userSigning),
            user_id: alice.userId,
          },
        }),
      ).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_SIGNATURE' } });
      // No master key at all to check against.
      expect(await upload({ self_signing_key: keys.body().self_signing_key })).toMatchObject({
        status: 400,
        body: { errcode: 'M_MISSING_PARAM' },
      });
      expect(await upload({ master_key: { user_id: alice.userId, keys: {} } })).toMatchObject({
        status: 400,
        body: { errcode: 'M_MISSING_PARAM' },
      });
      // Nothing was stored.
      expect((await query(bob, { [alice.userId]: [] })).master_keys).toEqual({});
    });

    it("refuses a public key that is the ID of one of the user's devices", async () => {
      const [alice] = await users('alice');
      const keys = new CrossSigningKeys(alice.userId);
      await newDevice(alice, { device_id: keys.master.publicKey });
      expect(await alice.call('POST', '/keys/device_signing/upload', keys.body())).toMatchObject({
        status: 403,
        body: { errcode: 'M_FORBIDDEN' },
      });
    });
  });

  describe('POST /keys/signatures/upload', () => {
    /** Alice with device keys on two devices and cross-signing keys; Bob with cross-signing keys. */
    async function crossSignedUsers() {
      const [alice, bob, carol] = await users('alice', 'bob', 'carol');
      const phone = new TestDevice(alice);
      const laptop = new TestDevice(await newDevice(alice));
      await phone.upload({ device_keys: phone.deviceKeys() });
      await laptop.upload({ device_keys: laptop.deviceKeys() });
      const aliceKeys = new CrossSigningKeys(alice.userId);
      await alice.ok('POST', '/keys/device_signing/upload', aliceKeys.body());
      const bobKeys = new CrossSigningKeys(bob.userId);
      await bob.ok('POST', '/keys/device_signing/upload', bobKeys.body());
      return { alice, bob, carol, phone, laptop, aliceKeys, bobKeys };
    }

    it('signs own devices with the self-signing key and the master key with a device', async () => {
      const { alice, bob, phone, laptop, aliceKeys } = await crossSignedUsers();
      const since = (await sync(bob)).next_batch as string;
      await sharedRoom(alice, bob);
      const selfSigningId = `ed25519:${aliceKeys.selfSigning.publicKey}`;
      const signedLaptop = aliceKeys.selfSigning.sign(
        laptop.deviceKeys(),
        alice.userId,
        selfSigningId,
      );
      const masterKey = aliceKeys.body().master_key;
      const signedMaster = phone.signingKey.sign(
        masterKey,
        alice.userId,
        `ed25519:${phone.deviceId}`,
      );
      expect(
        await alice.ok('POST', '/keys/signatures/upload', {
          [alice.userId]: {
            [laptop.deviceId]: signedLaptop,
            [aliceKeys.master.publicKey]: signedMaster,
          },
        }),
      ).toEqual({ failures: {} });

      const keys = await query(bob, { [alice.userId]: [] });
      expect(keys.device_keys[alice.userId][laptop.deviceId]).toEqual(signedLaptop);
      expect(keys.device_keys[alice.userId][phone.deviceId]).toEqual(phone.deviceKeys());
      expect(keys.master_keys[alice.userId]).toEqual(signedMaster);
      expect((await sync(bob, since)).device_lists.changed).toContain(alice.userId);
    });

    it("signs another user's master key with the user-signing key, visible to the signer only", async () => {
      const { alice, bob, carol, aliceKeys, bobKeys } = await crossSignedUsers();
      const userSigningId = `ed25519:${aliceKeys.userSigning.publicKey}`;
      const signedBob = aliceKeys.userSigning.sign(
        bobKeys.body().master_key,
        alice.userId,
        userSigningId,
      );
      expect(
        await alice.ok('POST', '/keys/signatures/upload', {
          [bob.userId]: { [bobKeys.master.publicKey]: signedBob },
        }),
      ).toEqual({ failures: {} });
      expect((await query(alice, { [bob.userId]: [] })).master_keys[bob.userId]).toEqual(signedBob);
      expect((await query(carol, { [bob.userId]: [] })).master_keys[bob.userId]).toEqual(
        bobKeys.body().master_key,
      );
      expect((await query(bob, { [bob.userId]: [] })).master_keys[bob.userId]).toEqual(
        bobKeys.body().master_key,
      );
    });

    it('lists each key that fails; the others are stored', async () => {
      const { alice, bob, phone, laptop, aliceKeys, bobKeys } = await crossSignedUsers();
      const selfSigningId = `ed25519:${aliceKeys.selfSigning.publicKey}`;
      const good = aliceKeys.selfSigning.sign(phone.deviceKeys(), alice.userId, selfSigningId);
      const wrongSigner = new Ed25519Key().sign(laptop.deviceKeys(), alice.userId, selfSigningId);
      const result = await alice.ok('POST', '/keys/signatures/upload', {
        [alice.userId]: {
          [phone.deviceId]: good,
          [laptop.deviceId]: wrongSigner,
          UNKNOWN: good,
        },
        [bob.userId]: {
          // Signed with the self-signing key instead of the user-signing key.
          [bobKeys.master.publicKey]: aliceKeys.selfSigning.sign(
            bobKeys.body().master_key,
            alice.userId,
            selfSigningId,
          ),
          // Not a master key.
          [bobKeys.selfSigning.publicKey]: bobKeys.body().self_signing_key,
        },
        '@remote:other.test': { KEY: { user_id: '@remote:other.test' } },
      });
      expect(result.failures).toEqual({
        [alice.userId]: {
          [laptop.deviceId]: { errcode: 'M_INVALID_SIGNATURE', error: expect.any(String) },
          UNKNOWN: { errcode: 'M_NOT_FOUND', error: expect.any(String) },
        },
        [bob.userId]: {
          [bobKeys.master.publicKey]: { errcode: 'M_INVALID_SIGNATURE', error: expect.any(String) },
          [bobKeys.selfSigning.publicKey]: { errcode: 'M_NOT_FOUND', error: expect.any(String) },
        },
        '@remote:other.test': { KEY: { errcode: 'M_UNKNOWN', error: expect.any(String) } },
      });
      const keys = await query(bob, { [alice.userId]: [] });
      expect(keys.device_keys[alice.userId][phone.deviceId]).toEqual(good);
      expect(keys.device_keys[alice.userId][laptop.deviceId]).toEqual(laptop.deviceKeys());

      // A signed object that is not the stored key (a changed field) fails too.
      const tampered = aliceKeys.selfSigning.sign(
        { ...laptop.deviceKeys(), algorithms: ['x'] },
        alice.userId,
        selfSigningId,
      );
      expect(
        (
          await alice.ok('POST', '/keys/signatures/upload', {
            [alice.userId]: { [laptop.deviceId]: tampered },
          })
        ).failures[alice.userId][laptop.deviceId].errcode,
      ).toBe('M_INVALID_SIGNATURE');
      expect(
        await alice.call('POST', '/keys/signatures/upload', { [alice.userId]: 'x' }),
      ).toMatchObject({
        status: 400,
        body: { errcode: 'M_BAD_JSON' },
      });
    });
  });

  describe('deactivating an account', () => {
    it('deletes its cross-signing keys and the signatures it made', async () => {
      const [alice, bob] = await users('alice', 'bob');
      const aliceKeys = new CrossSigningKeys(alice.userId);
      await alice.ok('POST', '/keys/device_signing/upload', aliceKeys.body());
      const bobKeys = new CrossSigningKeys(bob.userId);
      await bob.ok('POST', '/keys/device_signing/upload', bobKeys.body());
      const userSigningId = `ed25519:${aliceKeys.userSigning.publicKey}`;
      await alice.ok('POST', '/keys/signatures/upload', {
        [bob.userId]: {
          [bobKeys.master.publicKey]: aliceKeys.userSigning.sign(
            bobKeys.body().master_key,
            alice.userId,
            userSigningId,
          ),
        },
      });
      const challenge = await alice.call('POST', '/account/deactivate', {});
      await alice.ok('POST', '/account/deactivate', {
        auth: passwordAuth(alice, challenge.body.session),
      });
      const keys = await query(bob, { [alice.userId]: [] });
      expect(keys.master_keys).toEqual({});
      expect(keys.self_signing_keys).toEqual({});
      const left = await server.context.db.read((db) =>
        db
          .selectFrom('e2e_key_signatures')
          .selectAll()
          .where('signer_user_id', '=', alice.userId)
          .execute(),
      );
      expect(left).toEqual([]);
    });
  });

  describe('deleting a device', () => {
    it('deletes its identity, one-time and fallback keys, and the signatures of them', async () => {
      const [alice, bob] = await users('alice', 'bob');
      const laptop = new TestDevice(await newDevice(alice));
      await laptop.upload({
        device_keys: laptop.deviceKeys(),
        one_time_keys: laptop.oneTimeKeys(3),
        fallback_keys: laptop.oneTimeKeys(1, { fallback: true }),
      });
      const keys = new CrossSigningKeys(alice.userId);
      await alice.ok('POST', '/keys/device_signing/upload', keys.body());
      const selfSigningId = `ed25519:${keys.selfSigning.publicKey}`;
      await alice.ok('POST', '/keys/signatures/upload', {
        [alice.userId]: {
          [laptop.deviceId]: keys.selfSigning.sign(
            laptop.deviceKeys(),
            alice.userId,
            selfSigningId,
          ),
        },
      });

      const challenge = await alice.call('DELETE', `/devices/${laptop.deviceId}`, {});
      await alice.ok('DELETE', `/devices/${laptop.deviceId}`, {
        auth: passwordAuth(alice, challenge.body.session),
      });
      expect((await query(bob, { [alice.userId]: [] })).device_keys).toEqual({
        [alice.userId]: {},
      });
      expect(
        await claim(bob, { [alice.userId]: { [laptop.deviceId]: 'signed_curve25519' } }),
      ).toEqual({ failures: {}, one_time_keys: {} });
      const rows = await server.context.db.read(async (db) => ({
        signatures: await db
          .selectFrom('e2e_key_signatures')
          .selectAll()
          .where('user_id', '=', alice.userId)
          .execute(),
        fallback: await db
          .selectFrom('e2e_fallback_keys')
          .selectAll()
          .where('user_id', '=', alice.userId)
          .execute(),
      }));
      expect(rows).toEqual({ signatures: [], fallback: [] });
    });
  });
});
