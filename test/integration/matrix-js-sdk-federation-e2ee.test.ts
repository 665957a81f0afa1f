import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MsgType, type MatrixClient } from 'matrix-js-sdk';
import type { AccountServer, Json } from '../helpers/account-server.js';
import {
  CryptoClients,
  plaintexts,
  silenceCryptoConsole,
  until,
} from '../helpers/crypto-clients.js';
import { startFederationPair } from '../helpers/federation-pair.js';
import type { ClientCredentials } from '../helpers/sync-scenario.js';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

// Real clients with matrix-js-sdk's bundled Rust crypto, each on its own tenant (alpha.test and
// beta.test federate over plain HTTP): each fetches the other's device keys through its own
// server's /keys/query, claims a one-time key through /keys/claim, sends the room key as a
// to-device message across servers, and decrypts the other's messages.
describe('matrix-js-sdk 37.5 with Rust crypto: end-to-end encryption across two servers', () => {
  let alpha: AccountServer;
  let beta: AccountServer;
  let stop: () => Promise<void>;
  let alphaClients: CryptoClients;
  let betaClients: CryptoClients;
  let alice: MatrixClient;
  let bob: MatrixClient;
  let aliceUser: ClientCredentials;
  let bobUser: ClientCredentials;

  beforeAll(async () => {
    silenceCryptoConsole();
    ({ alpha, beta, stop } = await startFederationPair());
    alphaClients = new CryptoClients(alpha.url);
    betaClients = new CryptoClients(beta.url);
    aliceUser = await alpha.createUser('alice', 'alice-password');
    bobUser = await beta.createUser('bob', 'bob-password');
    alice = await alphaClients.start(aliceUser);
    bob = await betaClients.start(bobUser);
  });
  afterAll(async () => {
    alphaClients?.stopAll();
    betaClients?.stopAll();
    await stop?.();
    vi.restoreAllMocks();
  });

  it('a message encrypted on alpha is decrypted on beta, and the reply too', async () => {
    const ALICE = aliceUser.userId;
    const BOB = bobUser.userId;
    const { room_id: roomId } = await alice.createRoom({
      name: 'Secret across servers',
      invite: [BOB],
      initial_state: [
        {
          type: 'm.room.encryption',
          state_key: '',
          content: { algorithm: 'm.megolm.v1.aes-sha2' },
        },
      ],
    });
    await until(() => bob.getRoom(roomId)?.getMyMembership() === 'invite', 'the invite on beta');
    await bob.joinRoom(roomId);
    await until(
      () => alice.getRoom(roomId)?.getMember(BOB)?.membership === 'join',
      'the join seen on alpha',
    );

    // Each client knows the other's device, fetched through its own server from the other.
    await until(
      async () =>
        (await bob.getCrypto()?.getUserDeviceInfo([ALICE], true))
          ?.get(ALICE)
          ?.has(aliceUser.deviceId) === true,
      "alice's device on beta",
    );
    const aliceKeys = await beta.call('POST', `${V3}/keys/query`, {
      token: bobUser.accessToken,
      body: { device_keys: { [ALICE]: [] } },
    });
    expect(aliceKeys.body.failures).toEqual({});
    const ed25519 = aliceKeys.body.device_keys[ALICE][aliceUser.deviceId].keys[
      `ed25519:${aliceUser.deviceId}`
    ] as string;
    const seenByBob = await bob.getCrypto()?.getUserDeviceInfo([ALICE], true);
    expect(seenByBob?.get(ALICE)?.get(aliceUser.deviceId)?.getFingerprint()).toBe(ed25519);

    const conversation = [
      [alice, 'Hello Bob on beta, this is secret'],
      [bob, 'Hello Alice on alpha, secret too'],
      [alice, 'Third secret'],
    ] as const;
    const expected: string[] = [];
    for (const [sender, body] of conversation) {
      await sender.sendMessage(roomId, { msgtype: MsgType.Text, body });
      expected.push(body);
      await until(
        () =>
          plaintexts(alice.getRoom(roomId)).length === expected.length &&
          plaintexts(bob.getRoom(roomId)).length === expected.length,
        `"${body}" decrypted on both servers`,
      );
    }
    expect(plaintexts(alice.getRoom(roomId))).toEqual(expected);
    expect(plaintexts(bob.getRoom(roomId))).toEqual(expected);

    // Neither server holds the plaintext.
    for (const [server, token] of [
      [alpha, aliceUser.accessToken],
      [beta, bobUser.accessToken],
    ] as const) {
      const raw = await server.call('GET', `${V3}/rooms/${enc(roomId)}/messages?dir=b&limit=100`, {
        token,
      });
      expect(raw.status).toBe(200);
      const messages = (raw.body.chunk as Json[]).filter((event) => event.state_key === undefined);
      expect(messages.map((event) => event.type)).toEqual(Array(3).fill('m.room.encrypted'));
      const stored = JSON.stringify(raw.body);
      for (const [, body] of conversation) expect(stored).not.toContain(body);
    }
  });
});
