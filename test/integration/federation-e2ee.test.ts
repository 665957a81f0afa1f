import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xMatrixHeader } from '../../src/protocol/x-matrix.js';
import type { AccountServer, Json } from '../helpers/account-server.js';
import { eventually } from '../helpers/federated-users.js';
import { startFederationPair } from '../helpers/federation-pair.js';
import { RoomUser, createRoomUsers, enc } from '../helpers/room-users.js';
import { TestCrossSigningKeys, TestDeviceKeys } from '../helpers/test-e2ee-keys.js';

/**
 * End-to-end encryption keys across two real tenants over HTTP (alpha.test and beta.test
 * federate over plain HTTP): a user of beta queries and claims the keys of a user of alpha
 * through beta's `/keys/query` and `/keys/claim`, servers that fail land in `failures`, device
 * list changes reach `/sync` and `/keys/changes` on the other server, and the federation
 * endpoints' answers and errors.
 */
describe('end-to-end encryption over federation', () => {
  let alpha: AccountServer;
  let beta: AccountServer;
  let stop: () => Promise<void>;
  let alice: RoomUser;
  let bob: RoomUser;
  let aliceDevice: TestDeviceKeys;
  let aliceCrossSigning: TestCrossSigningKeys;
  let roomId: string;

  beforeAll(async () => {
    ({ alpha, beta, stop } = await startFederationPair());
    [alice] = await createRoomUsers(alpha, ['alice']);
    [bob] = await createRoomUsers(beta, ['bob']);
    roomId = await alice.createRoom({ preset: 'private_chat' });
    await alice.invite(roomId, bob.userId);
    await bob.ok('POST', `/rooms/${enc(roomId)}/join`, {});

    aliceDevice = new TestDeviceKeys(alice.userId, alice.deviceId);
    await alice.ok('POST', '/keys/upload', {
      device_keys: aliceDevice.deviceKeys(),
      one_time_keys: aliceDevice.oneTimeKeys(2),
      fallback_keys: aliceDevice.oneTimeKeys(1, { fallback: true }),
    });
    aliceCrossSigning = new TestCrossSigningKeys(alice.userId);
    await alice.ok('POST', '/keys/device_signing/upload', aliceCrossSigning.body());
  });
  afterAll(async () => stop?.());

  /** A request from beta.test to alpha.test, signed with beta's key (or unsigned). */
  async function fromBeta(method: 'GET' | 'POST', path: string, body?: Json, signed = true) {
    const key = beta.context.services.serverKeys.signingKey;
    const authorization = xMatrixHeader(
      {
        method,
        uri: path,
        origin: 'beta.test',
        destination: 'alpha.test',
        ...(body === undefined ? {} : { content: body }),
      },
      key,
    );
    return alpha.call(method, path, {
      ...(signed ? { headers: { authorization } } : {}),
      ...(body === undefined ? {} : { body }),
    });
  }

  it("queries another server's user's device and cross-signing keys through /keys/query", async () => {
    const keys = await bob.ok('POST', '/keys/query', { device_keys: { [alice.userId]: [] } });
    expect(keys).toEqual({
      failures: {},
      device_keys: { [alice.userId]: { [alice.deviceId]: aliceDevice.deviceKeys() } },
      master_keys: { [alice.userId]: aliceCrossSigning.key('master', aliceCrossSigning.master) },
      self_signing_keys: {
        [alice.userId]: aliceCrossSigning.key('self_signing', aliceCrossSigning.selfSigning),
      },
      // Another user's user-signing key is never shown, and never leaves alpha.
      user_signing_keys: {},
    });

    // Named devices only; local and remote users in one query.
    const both = await bob.ok('POST', '/keys/query', {
      device_keys: { [alice.userId]: ['UNKNOWN'], [bob.userId]: [] },
    });
    expect(both.device_keys).toEqual({ [alice.userId]: {}, [bob.userId]: {} });
    expect(both.failures).toEqual({});
  });

  it("claims another server's user's one-time keys, then the fallback key", async () => {
    const claim = () =>
      bob.ok('POST', '/keys/claim', {
        one_time_keys: { [alice.userId]: { [alice.deviceId]: 'signed_curve25519' } },
      });
    const first = await claim();
    const second = await claim();
    const third = await claim();
    const keyIds = [first, second, third].map(
      (answer) => Object.keys(answer.one_time_keys[alice.userId][alice.deviceId])[0],
    );
    expect(keyIds).toEqual([
      'signed_curve25519:AAAA0001',
      'signed_curve25519:AAAA0002',
      'signed_curve25519:AAAA0003',
    ]);
    expect(first.failures).toEqual({});
    expect(third.one_time_keys[alice.userId][alice.deviceId]).toMatchObject({
      'signed_curve25519:AAAA0003': { fallback: true },
    });
    // The one-time keys are gone on alpha; the fallback key is marked used.
    const counts = await alice.ok('POST', '/keys/upload', {});
    expect(counts.one_time_key_counts).toEqual({ signed_curve25519: 0 });
  });

  it('lists servers that fail or do not answer in time in failures; the others answer', async () => {
    // A server that accepts connections and never answers.
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentServer = `127.0.0.1:${(silent.address() as { port: number }).port}`;
    try {
      const started = Date.now();
      const keys = await bob.ok('POST', '/keys/query', {
        device_keys: {
          [alice.userId]: [],
          [`@carol:${silentServer}`]: [],
          '@dave:unknown.invalid': [],
        },
        timeout: 1000,
      });
      expect(Date.now() - started).toBeLessThan(8000);
      expect(keys.device_keys[alice.userId][alice.deviceId]).toEqual(aliceDevice.deviceKeys());
      expect(keys.failures).toEqual({
        [silentServer]: { status: 503, message: expect.any(String) },
        'unknown.invalid': { status: 503, message: expect.any(String) },
      });

      const claimed = await bob.ok('POST', '/keys/claim', {
        one_time_keys: { [`@carol:${silentServer}`]: { DEVICE: 'signed_curve25519' } },
        timeout: 500,
      });
      expect(claimed).toEqual({
        one_time_keys: {},
        failures: { [silentServer]: { status: 503, message: expect.any(String) } },
      });
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it("shows a remote user's new device in /sync's device_lists.changed and /keys/changes", async () => {
    const since = (await bob.ok('GET', '/sync?timeout=0')).next_batch as string;
    const login = await alpha.login('alice', 'alice-password');
    const laptop = new TestDeviceKeys(alice.userId, login.device_id);
    const aliceLaptop = new RoomUser(alpha, alice.userId, login.access_token, login.device_id);
    await aliceLaptop.ok('POST', '/keys/upload', { device_keys: laptop.deviceKeys() });

    const next = await eventually('alice in bob’s device_lists.changed', async () => {
      const sync = await bob.ok('GET', `/sync?timeout=0&since=${enc(since)}`);
      return sync.device_lists?.changed?.includes(alice.userId) ? sync : undefined;
    });
    expect(next.device_lists.left ?? []).toEqual([]);
    const changes = await bob.ok(
      'GET',
      `/keys/changes?from=${enc(since)}&to=${enc(next.next_batch)}`,
    );
    expect(changes).toEqual({ changed: [alice.userId], left: [] });

    // Queried again, the new device is there (asked of alpha live).
    const keys = await bob.ok('POST', '/keys/query', { device_keys: { [alice.userId]: [] } });
    expect(Object.keys(keys.device_keys[alice.userId]).sort()).toEqual(
      [alice.deviceId, login.device_id].sort(),
    );
  });

  it("shows a remote user's new cross-signing keys: device_lists.changed, then /keys/query", async () => {
    const since = (await bob.ok('GET', '/sync?timeout=0')).next_batch as string;
    const replacement = new TestCrossSigningKeys(alice.userId);
    await alice.ok('POST', '/keys/device_signing/upload', {
      ...replacement.body(),
      auth: {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user: alice.userId },
        password: 'alice-password',
      },
    });
    await eventually('alice in bob’s device_lists.changed', async () => {
      const sync = await bob.ok('GET', `/sync?timeout=0&since=${enc(since)}`);
      return sync.device_lists?.changed?.includes(alice.userId) ? sync : undefined;
    });
    const keys = await bob.ok('POST', '/keys/query', { device_keys: { [alice.userId]: [] } });
    expect(keys.master_keys[alice.userId]).toEqual(replacement.key('master', replacement.master));
    aliceCrossSigning = replacement;
  });

  it('serves local users’ devices and keys to other servers, with the spec’s errors', async () => {
    const devices = await fromBeta(
      'GET',
      `/_matrix/federation/v1/user/devices/${enc(alice.userId)}`,
    );
    expect(devices.status).toBe(200);
    expect(devices.body).toMatchObject({
      user_id: alice.userId,
      stream_id: expect.any(Number),
      master_key: aliceCrossSigning.key('master', aliceCrossSigning.master),
      self_signing_key: aliceCrossSigning.key('self_signing', aliceCrossSigning.selfSigning),
    });
    expect(devices.body.devices).toContainEqual({
      device_id: alice.deviceId,
      keys: aliceDevice.deviceKeys(),
    });

    const query = await fromBeta('POST', '/_matrix/federation/v1/user/keys/query', {
      device_keys: { [alice.userId]: [alice.deviceId], '@nobody:alpha.test': [] },
    });
    expect(query).toMatchObject({
      status: 200,
      body: {
        device_keys: {
          [alice.userId]: { [alice.deviceId]: aliceDevice.deviceKeys() },
          '@nobody:alpha.test': {},
        },
        master_keys: { [alice.userId]: expect.any(Object) },
        self_signing_keys: { [alice.userId]: expect.any(Object) },
      },
    });
    expect(query.body.user_signing_keys).toBeUndefined();

    const claim = await fromBeta('POST', '/_matrix/federation/v1/user/keys/claim', {
      one_time_keys: { [alice.userId]: { [alice.deviceId]: 'signed_curve25519' } },
    });
    expect(claim.status).toBe(200);
    expect(Object.keys(claim.body.one_time_keys[alice.userId][alice.deviceId])).toEqual([
      'signed_curve25519:AAAA0003',
    ]);

    const errors: [Promise<{ status: number; body: Json }>, number, string][] = [
      [
        fromBeta('GET', `/_matrix/federation/v1/user/devices/${enc(bob.userId)}`),
        404,
        'M_NOT_FOUND',
      ],
      [fromBeta('GET', '/_matrix/federation/v1/user/devices/not-a-user'), 400, 'M_INVALID_PARAM'],
      [
        fromBeta('POST', '/_matrix/federation/v1/user/keys/query', {
          device_keys: { [bob.userId]: [] },
        }),
        400,
        'M_INVALID_PARAM',
      ],
      [
        fromBeta('POST', '/_matrix/federation/v1/user/keys/claim', {
          one_time_keys: { [bob.userId]: { D: 'signed_curve25519' } },
        }),
        400,
        'M_INVALID_PARAM',
      ],
      [fromBeta('POST', '/_matrix/federation/v1/user/keys/query', {}), 400, 'M_MISSING_PARAM'],
      [
        fromBeta('POST', '/_matrix/federation/v1/user/keys/claim', {
          one_time_keys: { [alice.userId]: { D: 1 } },
        }),
        400,
        'M_BAD_JSON',
      ],
      [
        fromBeta(
          'GET',
          `/_matrix/federation/v1/user/devices/${enc(alice.userId)}`,
          undefined,
          false,
        ),
        401,
        'M_UNAUTHORIZED',
      ],
    ];
    for (const [response, status, errcode] of errors) {
      expect(await response).toMatchObject({ status, body: { errcode } });
    }
  });

  it('lists the remote user in device_lists.left once the last shared room is left', async () => {
    const since = (await bob.ok('GET', '/sync?timeout=0')).next_batch as string;
    await bob.ok('POST', `/rooms/${enc(roomId)}/leave`, {});
    const sync = await bob.ok('GET', `/sync?timeout=0&since=${enc(since)}`);
    expect(sync.device_lists).toMatchObject({ left: [alice.userId] });
    expect(sync.device_lists.changed ?? []).not.toContain(alice.userId);
  });
});
