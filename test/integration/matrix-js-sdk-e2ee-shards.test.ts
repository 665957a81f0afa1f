import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { EventType, MsgType, type MatrixClient, type MatrixEvent } from 'matrix-js-sdk';
import {
  CrossSigningKey,
  decodeRecoveryKey,
  type CryptoApi,
  type CryptoCallbacks,
  type GeneratedSecretStorageKey,
} from 'matrix-js-sdk/lib/crypto-api/index.js';
import {
  CryptoClients,
  plaintexts,
  silenceCryptoConsole,
  until,
} from '../helpers/crypto-clients.js';
import { FederatedUser, type Json } from '../helpers/federated-users.js';
import { localhostFetch } from '../helpers/localhost-fetch.js';
import { startMarinaUp, type MarinaUp } from '../helpers/marina-up.js';
import type { ClientCredentials } from '../helpers/sync-scenario.js';

/**
 * Issue 8's proof across shards: `marina up` with alpha on one shard and gamma on the other,
 * alice@alpha and bob@gamma as matrix-js-sdk 37.5 clients with their bundled Rust crypto, each
 * talking only to its own server through the router. Device keys cross over federation, an
 * encrypted room carries messages both ways that each side decrypts while both servers hold only
 * `m.room.encrypted`; both bootstrap cross-signing; a second device of alice's restores the room
 * keys from key backup and decrypts the history, is verified by her self-signing key (which bob
 * sees through gamma), and once deleted disappears from `/keys/query` on both servers.
 */

const ALPHA = 'alpha.localhost';
const GAMMA = 'gamma.localhost';
const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

function cryptoOf(client: MatrixClient): CryptoApi {
  const crypto = client.getCrypto();
  if (crypto === undefined) throw new Error('no crypto');
  return crypto;
}

/** Crypto callbacks that answer secret storage requests with the one key `known()` returns. */
function secretStorageCallbacks(
  known: () => { keyId: string; key: Uint8Array } | undefined,
): CryptoCallbacks {
  return {
    getSecretStorageKey: async ({ keys }) => {
      const secret = known();
      return secret !== undefined && secret.keyId in keys ? [secret.keyId, secret.key] : null;
    },
  };
}

/** FederatedUser.register's password for `name`. */
const passwordOf = (name: string) => `${name}-password-1`;

const passwordAuth = (name: string) => ({
  type: 'm.login.password',
  identifier: { type: 'm.id.user', user: name },
  password: passwordOf(name),
});

const credentialsOf = (user: FederatedUser): ClientCredentials => ({
  userId: user.userId,
  deviceId: user.deviceId,
  accessToken: user.token,
});

/** A new device of `name` on the tenant at `baseUrl`, by password login through the router. */
async function login(baseUrl: string, name: string): Promise<ClientCredentials> {
  const response = await localhostFetch(`${baseUrl}${V3}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(passwordAuth(name)),
  });
  const body = (await response.json()) as Json;
  if (response.status !== 200) throw new Error(`login ${name}: ${JSON.stringify(body)}`);
  return { userId: body.user_id, deviceId: body.device_id, accessToken: body.access_token };
}

describe('matrix-js-sdk 37.5 with Rust crypto: end-to-end encryption between tenants of two shards', () => {
  let up: MarinaUp;
  let aliceHttp: FederatedUser;
  let bobHttp: FederatedUser;
  let alphaClients: CryptoClients;
  let gammaClients: CryptoClients;
  let alice: MatrixClient;
  let bob: MatrixClient;
  let ALICE: string;
  let BOB: string;
  let roomId: string;
  let backupVersion: string;
  let aliceSelfSigningId: string;
  let second: MatrixClient;
  let secondUser: ClientCredentials;
  /** The secret storage key alice's first device created ("the recovery key"). */
  let recoveryKey: GeneratedSecretStorageKey;
  let secretStorageKeyId: string | undefined;
  const conversation = [
    [() => alice, 'Hello Bob on gamma, this is secret'],
    [() => bob, 'Hello Alice on alpha, secret too'],
    [() => alice, 'Third secret, across shards'],
    [() => bob, 'Fourth secret, from the other shard'],
  ] as const;
  const bodies = conversation.map(([, body]) => body);

  /** `/keys/query` for `deviceKeys` through `user`'s own server. */
  const queryKeys = (user: FederatedUser, deviceKeys: Record<string, string[]>): Promise<Json> =>
    user.ok('POST', '/keys/query', { device_keys: deviceKeys });

  beforeAll(async () => {
    silenceCryptoConsole();
    // Shard-0 holds the embedded `localhost` and alpha (full at 2); gamma starts shard-1.
    up = await startMarinaUp(['--shards', '1', '--max-tenants-per-shard', '2']);
    for (const name of [ALPHA, GAMMA]) await up.createTenant(name, 'open');
    aliceHttp = await FederatedUser.register(up.tenantUrl(ALPHA), 'alice');
    bobHttp = await FederatedUser.register(up.tenantUrl(GAMMA), 'bob');
    ALICE = aliceHttp.userId;
    BOB = bobHttp.userId;
    alphaClients = new CryptoClients(up.tenantUrl(ALPHA), localhostFetch);
    gammaClients = new CryptoClients(up.tenantUrl(GAMMA), localhostFetch);
    alice = await alphaClients.start(credentialsOf(aliceHttp), {
      // Like Element: the secret storage key just created is cached for the next accesses.
      cryptoCallbacks: {
        ...secretStorageCallbacks(() =>
          secretStorageKeyId === undefined
            ? undefined
            : { keyId: secretStorageKeyId, key: recoveryKey.privateKey },
        ),
        cacheSecretStorageKey: (keyId) => {
          secretStorageKeyId = keyId;
        },
      },
    });
    bob = await gammaClients.start(credentialsOf(bobHttp));
  }, 180_000);

  afterAll(async () => {
    alphaClients?.stopAll();
    gammaClients?.stopAll();
    vi.restoreAllMocks();
    if (up) expect(await up.stop()).toBe(0);
  });

  it('places alpha and gamma on different shards', async () => {
    const alpha = await up.tenant(ALPHA);
    const gamma = await up.tenant(GAMMA);
    expect(alpha.shard_id).not.toBeNull();
    expect(gamma.shard_id).not.toBeNull();
    expect(gamma.shard_id).not.toBe(alpha.shard_id);
    expect(ALICE).toBe('@alice:alpha.localhost');
    expect(BOB).toBe('@bob:gamma.localhost');
  });

  it("each client's device keys are visible to the other, through its own server", async () => {
    for (const [asker, owner, ownerDevice] of [
      [bobHttp, ALICE, aliceHttp.deviceId],
      [aliceHttp, BOB, bobHttp.deviceId],
    ] as const) {
      await until(
        async () =>
          (await queryKeys(asker, { [owner]: [] })).device_keys[owner]?.[ownerDevice] !== undefined,
        `${owner}'s device keys through ${asker.userId}'s server`,
      );
      const keys = await queryKeys(asker, { [owner]: [] });
      expect(keys.failures).toEqual({});
      const device = keys.device_keys[owner][ownerDevice];
      expect(device).toMatchObject({
        user_id: owner,
        device_id: ownerDevice,
        algorithms: expect.arrayContaining([
          'm.olm.v1.curve25519-aes-sha2',
          'm.megolm.v1.aes-sha2',
        ]),
      });
      const ed25519 = device.keys[`ed25519:${ownerDevice}`] as string;
      expect(ed25519).toMatch(/^[A-Za-z0-9+/]{43}$/);
      // The asker's crypto fetched the same identity key.
      const client = asker === bobHttp ? bob : alice;
      const seen = await cryptoOf(client).getUserDeviceInfo([owner], true);
      expect(seen.get(owner)?.get(ownerDevice)?.getFingerprint()).toBe(ed25519);
    }
  });

  it('both bootstrap cross-signing (alice with secret storage and a key backup), seen across servers', async () => {
    const aliceCrypto = cryptoOf(alice);
    await aliceCrypto.bootstrapCrossSigning({
      authUploadDeviceSigningKeys: async (makeRequest) => {
        await makeRequest(passwordAuth('alice'));
      },
    });
    recoveryKey = await aliceCrypto.createRecoveryKeyFromPassphrase();
    await aliceCrypto.bootstrapSecretStorage({
      createSecretStorageKey: async () => recoveryKey,
      setupNewKeyBackup: true,
    });
    expect(await aliceCrypto.isCrossSigningReady()).toBe(true);
    expect(await aliceCrypto.isSecretStorageReady()).toBe(true);
    const check = await aliceCrypto.checkKeyBackupAndEnable();
    expect(check?.trustInfo).toEqual({ trusted: true, matchesDecryptionKey: true });
    backupVersion = String(check?.backupInfo.version);
    await until(
      async () => (await aliceCrypto.getActiveSessionBackupVersion()) === backupVersion,
      'key backup to be enabled',
    );

    const bobCrypto = cryptoOf(bob);
    await bobCrypto.bootstrapCrossSigning({
      authUploadDeviceSigningKeys: async (makeRequest) => {
        await makeRequest(passwordAuth('bob'));
      },
    });
    expect(await bobCrypto.isCrossSigningReady()).toBe(true);

    // Each sees the other's master and self-signing keys through its own server, and the
    // other's device signed by them.
    aliceSelfSigningId = String(
      await aliceCrypto.getCrossSigningKeyId(CrossSigningKey.SelfSigning),
    );
    for (const [asker, owner, ownerDevice, crypto] of [
      [bobHttp, ALICE, aliceHttp.deviceId, aliceCrypto],
      [aliceHttp, BOB, bobHttp.deviceId, bobCrypto],
    ] as const) {
      const masterId = String(await crypto.getCrossSigningKeyId(CrossSigningKey.Master));
      const selfSigningId = String(await crypto.getCrossSigningKeyId(CrossSigningKey.SelfSigning));
      await until(async () => {
        const keys = await queryKeys(asker, { [owner]: [] });
        return (
          keys.master_keys?.[owner] !== undefined &&
          keys.device_keys[owner]?.[ownerDevice]?.signatures?.[owner]?.[
            `ed25519:${selfSigningId}`
          ] !== undefined
        );
      }, `${owner}'s cross-signing keys through ${asker.userId}'s server`);
      const keys = await queryKeys(asker, { [owner]: [] });
      expect(keys.master_keys[owner]).toMatchObject({
        user_id: owner,
        usage: ['master'],
        keys: { [`ed25519:${masterId}`]: masterId },
      });
      expect(keys.self_signing_keys[owner]).toMatchObject({
        usage: ['self_signing'],
        keys: { [`ed25519:${selfSigningId}`]: selfSigningId },
        signatures: { [owner]: { [`ed25519:${masterId}`]: expect.any(String) } },
      });
      // A user-signing key is only ever shown to its owner.
      expect(keys.user_signing_keys?.[owner]).toBeUndefined();
    }
  });

  it('messages in an encrypted room are decrypted on each shard; both servers hold only ciphertext', async () => {
    ({ room_id: roomId } = await alice.createRoom({
      name: 'Secret across shards',
      invite: [BOB],
      initial_state: [
        {
          type: 'm.room.encryption',
          state_key: '',
          content: { algorithm: 'm.megolm.v1.aes-sha2' },
        },
      ],
    }));
    await until(() => bob.getRoom(roomId)?.getMyMembership() === 'invite', 'the invite on gamma');
    await bob.joinRoom(roomId);
    await until(
      () => alice.getRoom(roomId)?.getMember(BOB)?.membership === 'join',
      'the join seen on alpha',
    );
    expect(await cryptoOf(alice).isEncryptionEnabledInRoom(roomId)).toBe(true);
    await until(
      async () => await cryptoOf(bob).isEncryptionEnabledInRoom(roomId),
      'the room encrypted on gamma',
    );

    const sent: string[] = [];
    for (const [sender, body] of conversation) {
      await sender().sendMessage(roomId, { msgtype: MsgType.Text, body });
      sent.push(body);
      await until(
        () =>
          plaintexts(alice.getRoom(roomId)).length === sent.length &&
          plaintexts(bob.getRoom(roomId)).length === sent.length,
        `"${body}" decrypted on both shards`,
      );
    }
    expect(plaintexts(alice.getRoom(roomId))).toEqual(bodies);
    expect(plaintexts(bob.getRoom(roomId))).toEqual(bodies);
    const last = alice.getRoom(roomId)?.getLiveTimeline().getEvents().at(-1);
    expect(last?.isEncrypted()).toBe(true);
    expect(last?.getWireType()).toBe(EventType.RoomMessageEncrypted);

    // What each server stored: /messages read raw, with no client in between.
    for (const user of [aliceHttp, bobHttp]) {
      const raw = await user.ok('GET', `/rooms/${enc(roomId)}/messages?dir=b&limit=100`);
      const messages = (raw.chunk as Json[]).filter((event) => event.state_key === undefined);
      expect(
        messages.map((event) => event.type),
        user.userId,
      ).toEqual(Array(bodies.length).fill('m.room.encrypted'));
      for (const event of messages) {
        expect(event.content).toMatchObject({
          algorithm: 'm.megolm.v1.aes-sha2',
          ciphertext: expect.any(String),
          session_id: expect.any(String),
        });
      }
      const stored = JSON.stringify(raw);
      for (const body of bodies) expect(stored).not.toContain(body);
    }
  });

  it("a second device of alice's restores the room keys from key backup and decrypts the federated history", async () => {
    // The room's Megolm sessions, alice's and bob's (the latter came over federation).
    const raw = await aliceHttp.ok('GET', `/rooms/${enc(roomId)}/messages?dir=f&limit=100`);
    const sessionIds = [
      ...new Set(
        (raw.chunk as Json[])
          .filter((event) => event.type === 'm.room.encrypted')
          .map((event) => event.content.session_id as string),
      ),
    ].sort();
    expect(sessionIds.length).toBeGreaterThanOrEqual(2);

    // The backup loop uploads after a random delay of up to 10 s.
    const backedUp = () => aliceHttp.ok('GET', `/room_keys/keys?version=${backupVersion}`);
    await until(
      async () =>
        Object.keys((await backedUp()).rooms?.[roomId]?.sessions ?? {}).length ===
        sessionIds.length,
      'every session of the room in the backup',
      90_000,
    );
    const backup = await backedUp();
    expect(Object.keys(backup.rooms[roomId].sessions).sort()).toEqual(sessionIds);
    const everything = JSON.stringify(backup);
    for (const body of bodies) expect(everything).not.toContain(body);

    secondUser = await login(up.tenantUrl(ALPHA), 'alice');
    second = await alphaClients.start(secondUser, {
      // The user types in the recovery key the first device showed.
      cryptoCallbacks: secretStorageCallbacks(() =>
        secretStorageKeyId === undefined
          ? undefined
          : {
              keyId: secretStorageKeyId,
              key: decodeRecoveryKey(String(recoveryKey.encodedPrivateKey)),
            },
      ),
    });
    const messagesOf = (): MatrixEvent[] =>
      (second.getRoom(roomId)?.getLiveTimeline().getEvents() ?? []).filter(
        (event) => event.getWireType() === EventType.RoomMessageEncrypted,
      );
    const decrypted = () =>
      messagesOf()
        .filter((event) => !event.isDecryptionFailure())
        .map((event) => String(event.getContent().body));
    // The history was sent before the device existed: it has no keys for it.
    await until(
      () =>
        messagesOf().length === bodies.length &&
        messagesOf().every((event) => event.isDecryptionFailure()),
      'the history to arrive undecryptable',
    );

    const crypto = cryptoOf(second);
    await crypto.loadSessionBackupPrivateKeyFromSecretStorage();
    expect((await crypto.getKeyBackupInfo())?.version).toBe(backupVersion);
    const restored = await crypto.restoreKeyBackup();
    expect(restored.total).toBe(sessionIds.length);
    await until(
      () => decrypted().length === bodies.length,
      'the history decrypted with the restored keys',
    );
    expect(decrypted()).toEqual(bodies);
  });

  it('alice verifies her second device with her self-signing key; bob on gamma sees it signed by its owner', async () => {
    const aliceCrypto = cryptoOf(alice);
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
    await until(
      async () =>
        (await aliceCrypto.getDeviceVerificationStatus(ALICE, secondUser.deviceId))
          ?.crossSigningVerified === true,
      'the second device cross-signing verified for alice',
    );

    // Both servers answer with the device signed by the self-signing key; gamma learnt it
    // over federation.
    for (const asker of [aliceHttp, bobHttp]) {
      await until(
        async () =>
          (await queryKeys(asker, { [ALICE]: [secondUser.deviceId] })).device_keys[ALICE]?.[
            secondUser.deviceId
          ]?.signatures?.[ALICE]?.[`ed25519:${aliceSelfSigningId}`] !== undefined,
        `the signed second device through ${asker.userId}'s server`,
      );
      const signed = await queryKeys(asker, { [ALICE]: [secondUser.deviceId] });
      expect(Object.keys(signed.device_keys[ALICE])).toEqual([secondUser.deviceId]);
      expect(signed.device_keys[ALICE][secondUser.deviceId].signatures[ALICE]).toEqual({
        [`ed25519:${secondUser.deviceId}`]: expect.any(String),
        [`ed25519:${aliceSelfSigningId}`]: expect.any(String),
      });
    }
    // Bob's crypto checks the signature: alice's second device is verified by its owner.
    await until(
      async () =>
        (await cryptoOf(bob).getDeviceVerificationStatus(ALICE, secondUser.deviceId))
          ?.signedByOwner === true,
      "bob's client to see the second device signed by alice",
      60_000,
    );
  });

  it('a deleted device disappears from /keys/query on both servers', async () => {
    second.stopClient();
    await alice.deleteDevice(secondUser.deviceId, passwordAuth('alice'));
    for (const asker of [aliceHttp, bobHttp]) {
      await until(
        async () =>
          (await queryKeys(asker, { [ALICE]: [] })).device_keys[ALICE]?.[secondUser.deviceId] ===
          undefined,
        `the deleted device gone through ${asker.userId}'s server`,
      );
      const after = await queryKeys(asker, { [ALICE]: [] });
      expect(Object.keys(after.device_keys[ALICE])).toEqual([aliceHttp.deviceId]);
    }
    await until(
      async () =>
        !(await cryptoOf(bob).getUserDeviceInfo([ALICE])).get(ALICE)?.has(secondUser.deviceId),
      "bob's client to drop the deleted device",
    );

    // Encryption still works across shards after all that.
    await alice.sendMessage(roomId, { msgtype: MsgType.Text, body: 'After the cleanup' });
    await until(
      () => plaintexts(bob.getRoom(roomId)).at(-1) === 'After the cleanup',
      'the last message decrypted on gamma',
    );
  });
});
