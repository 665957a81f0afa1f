import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MsgType, type MatrixClient } from 'matrix-js-sdk';
import { CrossSigningKey } from 'matrix-js-sdk/lib/crypto-api/index.js';
import { AccountServer, type Json } from '../helpers/account-server.js';
import {
  CryptoClients,
  plaintexts,
  silenceCryptoConsole,
  until,
} from '../helpers/crypto-clients.js';
import type { ClientCredentials } from '../helpers/sync-scenario.js';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

// Real clients with matrix-js-sdk's bundled Rust crypto (matrix-sdk-crypto-wasm) against the real
// server: the keys endpoints, to-device messages and device lists as Element's engine uses them.
describe('matrix-js-sdk 37.5 with Rust crypto: end-to-end encryption', () => {
  let server: AccountServer;
  let clients: CryptoClients;
  let alice: MatrixClient;
  let bob: MatrixClient;
  let aliceUser: ClientCredentials;
  let bobUser: ClientCredentials;
  let roomId: string;

  const startCryptoClient = (user: ClientCredentials) => clients.start(user);

  /** `/keys/query` as a plain HTTP call, as `token`'s user. */
  async function queryKeys(token: string, deviceKeys: Record<string, string[]>): Promise<Json> {
    const response = await server.call('POST', `${V3}/keys/query`, {
      token,
      body: { device_keys: deviceKeys },
    });
    expect(response.status).toBe(200);
    return response.body;
  }

  const passwordAuth = (user: string) => ({
    type: 'm.login.password',
    identifier: { type: 'm.id.user', user },
    password: `${user}-password`,
  });

  beforeAll(async () => {
    silenceCryptoConsole();
    server = await AccountServer.start();
    clients = new CryptoClients(server.url);
    aliceUser = await server.createUser('alice', 'alice-password');
    bobUser = await server.createUser('bob', 'bob-password');
    alice = await startCryptoClient(aliceUser);
    bob = await startCryptoClient(bobUser);
  });
  afterAll(async () => {
    clients?.stopAll();
    await server?.stop();
    vi.restoreAllMocks();
  });

  it("each client uploads its device keys and sees the other's", async () => {
    const ALICE = aliceUser.userId;
    const BOB = bobUser.userId;
    await until(async () => {
      const keys = await queryKeys(bobUser.accessToken, { [ALICE]: [], [BOB]: [] });
      return (
        keys.device_keys[ALICE]?.[aliceUser.deviceId] !== undefined &&
        keys.device_keys[BOB]?.[bobUser.deviceId] !== undefined
      );
    }, 'both devices to upload their keys');
    const keys = await queryKeys(bobUser.accessToken, { [ALICE]: [] });
    const aliceDevice = keys.device_keys[ALICE][aliceUser.deviceId];
    expect(aliceDevice).toMatchObject({
      user_id: ALICE,
      device_id: aliceUser.deviceId,
      algorithms: expect.arrayContaining(['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2']),
    });
    const ed25519 = aliceDevice.keys[`ed25519:${aliceUser.deviceId}`] as string;
    expect(ed25519).toMatch(/^[A-Za-z0-9+/]{43}$/);

    // Each client's crypto fetched the other's device with the same identity key.
    const seenByBob = await bob.getCrypto()?.getUserDeviceInfo([ALICE], true);
    expect(seenByBob?.get(ALICE)?.get(aliceUser.deviceId)?.getFingerprint()).toBe(ed25519);
    const seenByAlice = await alice.getCrypto()?.getUserDeviceInfo([BOB], true);
    expect([...(seenByAlice?.get(BOB)?.keys() ?? [])]).toEqual([bobUser.deviceId]);
  });

  it('messages in an encrypted room are decrypted by each side; the server holds only ciphertext', async () => {
    const BOB = bobUser.userId;
    ({ room_id: roomId } = await alice.createRoom({
      name: 'Secret',
      invite: [BOB],
      initial_state: [
        {
          type: 'm.room.encryption',
          state_key: '',
          content: { algorithm: 'm.megolm.v1.aes-sha2' },
        },
      ],
    }));
    await until(() => bob.getRoom(roomId)?.getMyMembership() === 'invite', 'the invite');
    await bob.joinRoom(roomId);
    await until(() => alice.getRoom(roomId)?.getMember(BOB)?.membership === 'join', 'the join');
    expect(await alice.getCrypto()?.isEncryptionEnabledInRoom(roomId)).toBe(true);
    expect(await bob.getCrypto()?.isEncryptionEnabledInRoom(roomId)).toBe(true);

    const conversation = [
      [alice, 'Hello Bob, this is secret'],
      [bob, 'Hello Alice, secret too'],
      [alice, 'Third secret'],
      [bob, 'Fourth secret'],
    ] as const;
    const expected: string[] = [];
    for (const [sender, body] of conversation) {
      await sender.sendMessage(roomId, { msgtype: MsgType.Text, body });
      expected.push(body);
      await until(
        () =>
          plaintexts(alice.getRoom(roomId)).length === expected.length &&
          plaintexts(bob.getRoom(roomId)).length === expected.length,
        `"${body}" decrypted on both sides`,
      );
    }
    expect(plaintexts(alice.getRoom(roomId))).toEqual(expected);
    expect(plaintexts(bob.getRoom(roomId))).toEqual(expected);
    const decrypted = bob.getRoom(roomId)?.getLiveTimeline().getEvents().at(-1);
    expect(decrypted?.isEncrypted()).toBe(true);
    expect(decrypted?.getWireType()).toBe('m.room.encrypted');

    // What the server stored: /messages read raw, with no client in between.
    const raw = await server.call('GET', `${V3}/rooms/${enc(roomId)}/messages?dir=b&limit=100`, {
      token: bobUser.accessToken,
    });
    expect(raw.status).toBe(200);
    const messages = (raw.body.chunk as Json[]).filter((event) => event.state_key === undefined);
    expect(messages.map((event) => event.type)).toEqual(Array(4).fill('m.room.encrypted'));
    for (const event of messages) {
      expect(event.content).toMatchObject({
        algorithm: 'm.megolm.v1.aes-sha2',
        ciphertext: expect.any(String),
        session_id: expect.any(String),
      });
    }
    const stored = JSON.stringify(raw.body);
    for (const [, body] of conversation) expect(stored).not.toContain(body);
  });

  it('cross-signing: bootstrapped keys are published, a second device is verified by signing it, a deleted device is gone', async () => {
    const ALICE = aliceUser.userId;
    const aliceCrypto = alice.getCrypto();
    if (aliceCrypto === undefined) throw new Error('no crypto');
    let authCalls = 0;
    await aliceCrypto.bootstrapCrossSigning({
      authUploadDeviceSigningKeys: async (makeRequest) => {
        authCalls += 1;
        await makeRequest(passwordAuth('alice'));
      },
    });
    expect(authCalls).toBe(1);
    expect(await aliceCrypto.isCrossSigningReady()).toBe(true);
    const masterId = await aliceCrypto.getCrossSigningKeyId(CrossSigningKey.Master);
    const selfSigningId = await aliceCrypto.getCrossSigningKeyId(CrossSigningKey.SelfSigning);
    const userSigningId = await aliceCrypto.getCrossSigningKeyId(CrossSigningKey.UserSigning);
    expect(masterId).toMatch(/^[A-Za-z0-9+/]{43}$/);

    // Bob sees Alice's master and self-signing keys, not her user-signing key; she sees all three.
    const byBob = await queryKeys(bobUser.accessToken, { [ALICE]: [] });
    expect(byBob.master_keys[ALICE]).toMatchObject({
      user_id: ALICE,
      usage: ['master'],
      keys: { [`ed25519:${masterId}`]: masterId },
    });
    expect(byBob.self_signing_keys[ALICE]).toMatchObject({
      usage: ['self_signing'],
      keys: { [`ed25519:${selfSigningId}`]: selfSigningId },
      signatures: { [ALICE]: { [`ed25519:${masterId}`]: expect.any(String) } },
    });
    expect(byBob.user_signing_keys).toEqual({});
    const byAlice = await queryKeys(aliceUser.accessToken, { [ALICE]: [] });
    expect(byAlice.user_signing_keys[ALICE]).toMatchObject({
      usage: ['user_signing'],
      keys: { [`ed25519:${userSigningId}`]: userSigningId },
    });
    // The bootstrap signed Alice's device with the self-signing key (`/keys/signatures/upload`).
    expect(byBob.device_keys[ALICE][aliceUser.deviceId].signatures[ALICE]).toHaveProperty(
      `ed25519:${selfSigningId}`,
    );

    // A second device of Alice's, verified by her first device signing it.
    const login = await server.login('alice', 'alice-password');
    const secondUser = {
      userId: login.user_id,
      deviceId: login.device_id,
      accessToken: login.access_token,
    };
    const second = await startCryptoClient(secondUser);
    await until(
      async () =>
        (await aliceCrypto.getUserDeviceInfo([ALICE], true))
          .get(ALICE)
          ?.has(secondUser.deviceId) === true,
      "the first device to learn the second's keys",
    );
    expect(
      (await aliceCrypto.getDeviceVerificationStatus(ALICE, secondUser.deviceId))
        ?.crossSigningVerified,
    ).toBe(false);
    await aliceCrypto.crossSignDevice(secondUser.deviceId);
    const signed = await queryKeys(bobUser.accessToken, { [ALICE]: [secondUser.deviceId] });
    expect(Object.keys(signed.device_keys[ALICE])).toEqual([secondUser.deviceId]);
    expect(signed.device_keys[ALICE][secondUser.deviceId].signatures[ALICE]).toEqual({
      [`ed25519:${secondUser.deviceId}`]: expect.any(String),
      [`ed25519:${selfSigningId}`]: expect.any(String),
    });
    // The signature is valid for the client's own crypto: the device is now cross-signed.
    await until(
      async () =>
        (await aliceCrypto.getDeviceVerificationStatus(ALICE, secondUser.deviceId))
          ?.crossSigningVerified === true,
      'the second device to be cross-signing verified',
    );
    // The second device itself sees it too, after fetching its own user's keys again.
    await until(
      async () =>
        (await second.getCrypto()?.getDeviceVerificationStatus(ALICE, secondUser.deviceId))
          ?.signedByOwner === true,
      'the second device to see its signature by the self-signing key',
    );

    // Deleting the second device deletes its keys: /keys/query no longer has it, and Bob's
    // client, told by device_lists.changed in /sync, drops it.
    expect(
      [
        ...((await bob.getCrypto()?.getUserDeviceInfo([ALICE], true))?.get(ALICE)?.keys() ?? []),
      ].sort(),
    ).toEqual([aliceUser.deviceId, secondUser.deviceId].sort());
    second.stopClient();
    await alice.deleteDevice(secondUser.deviceId, passwordAuth('alice'));
    const after = await queryKeys(bobUser.accessToken, { [ALICE]: [] });
    expect(Object.keys(after.device_keys[ALICE])).toEqual([aliceUser.deviceId]);
    await until(
      async () =>
        !(await bob.getCrypto()?.getUserDeviceInfo([ALICE]))?.get(ALICE)?.has(secondUser.deviceId),
      "Bob's client to drop the deleted device",
    );

    // Encryption still works after all that: a new message reaches Bob.
    await alice.sendMessage(roomId, { msgtype: MsgType.Text, body: 'After the cleanup' });
    await until(
      () => plaintexts(bob.getRoom(roomId)).at(-1) === 'After the cleanup',
      'the last message decrypted by Bob',
    );
  });
});
