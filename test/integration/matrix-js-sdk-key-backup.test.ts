import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { EventType, MsgType, type MatrixClient, type MatrixEvent } from 'matrix-js-sdk';
import {
  decodeRecoveryKey,
  type CryptoApi,
  type CryptoCallbacks,
  type GeneratedSecretStorageKey,
} from 'matrix-js-sdk/lib/crypto-api/index.js';
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
const BACKUP_ALGORITHM = 'm.megolm_backup.v1.curve25519-aes-sha2';

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

function cryptoOf(client: MatrixClient): CryptoApi {
  const crypto = client.getCrypto();
  if (crypto === undefined) throw new Error('no crypto');
  return crypto;
}

// Server-side key backup as Element's engine uses it: matrix-js-sdk 37.5 with its bundled Rust
// crypto sets up secret storage and a backup, uploads its room keys, and a new device of the same
// user restores them with the recovery key and decrypts the history it was never sent keys for.
describe('matrix-js-sdk 37.5 with Rust crypto: server-side key backup', () => {
  let server: AccountServer;
  let clients: CryptoClients;
  let aliceUser: ClientCredentials;
  let bobUser: ClientCredentials;
  let alice: MatrixClient;
  let bob: MatrixClient;
  let roomId: string;
  let backupVersion: string;
  /** The secret storage key as the first device created it ("the recovery key"). */
  let recoveryKey: GeneratedSecretStorageKey;
  let secretStorageKeyId: string | undefined;
  /** What the server answered to each of the first device's `PUT /room_keys/keys`. */
  const uploadResponses: Promise<Json>[] = [];
  const conversation: [sender: () => MatrixClient, body: string][] = [
    [() => alice, 'Backed-up secret one'],
    [() => bob, 'Backed-up secret two, from Bob'],
    [() => alice, 'Backed-up secret three'],
  ];
  const bodies = conversation.map(([, body]) => body);

  /** `fetch`, recording the responses to key uploads into the backup. */
  const recordingFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    const url = input instanceof Request ? input.url : String(input);
    if (init?.method === 'PUT' && new URL(url).pathname.endsWith('/room_keys/keys')) {
      uploadResponses.push(response.clone().json());
    }
    return response;
  };

  const passwordAuth = {
    type: 'm.login.password',
    identifier: { type: 'm.id.user', user: 'alice' },
    password: 'alice-password',
  };

  async function get(path: string, token: string): Promise<Json> {
    const response = await server.call('GET', V3 + path, { token });
    expect(response.status).toBe(200);
    return response.body;
  }

  beforeAll(async () => {
    silenceCryptoConsole();
    server = await AccountServer.start();
    clients = new CryptoClients(server.url);
    aliceUser = await server.createUser('alice', 'alice-password');
    bobUser = await server.createUser('bob', 'bob-password');
    alice = await clients.start(aliceUser, {
      fetchFn: recordingFetch,
      // Like Element: the key just created is cached for the next secret storage accesses.
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
    bob = await clients.start(bobUser);
  });
  afterAll(async () => {
    clients?.stopAll();
    await server?.stop();
    vi.restoreAllMocks();
  });

  it('the first device bootstraps cross-signing, secret storage and a new backup, as Element does', async () => {
    const crypto = cryptoOf(alice);
    await crypto.bootstrapCrossSigning({
      authUploadDeviceSigningKeys: async (makeRequest) => {
        await makeRequest(passwordAuth);
      },
    });
    recoveryKey = await crypto.createRecoveryKeyFromPassphrase();
    expect(recoveryKey.encodedPrivateKey).toEqual(expect.any(String));
    await crypto.bootstrapSecretStorage({
      createSecretStorageKey: async () => recoveryKey,
      setupNewKeyBackup: true,
    });
    expect(secretStorageKeyId).toEqual(expect.any(String));
    expect(await crypto.isSecretStorageReady()).toBe(true);

    // The client backs up to the version it created, which it trusts (signed by its device and
    // its master key) and holds the decryption key of.
    const check = await crypto.checkKeyBackupAndEnable();
    expect(check?.trustInfo).toEqual({ trusted: true, matchesDecryptionKey: true });
    backupVersion = String(check?.backupInfo.version);
    await until(
      async () => (await crypto.getActiveSessionBackupVersion()) === backupVersion,
      'key backup to be enabled',
    );

    // On the server: the version with its public key and signatures, no keys yet.
    const current = await get('/room_keys/version', aliceUser.accessToken);
    expect(current).toMatchObject({
      version: backupVersion,
      algorithm: BACKUP_ALGORITHM,
      count: 0,
      etag: expect.any(String),
      auth_data: {
        public_key: expect.stringMatching(/^[A-Za-z0-9+/]{43}$/),
        signatures: {
          [aliceUser.userId]: expect.objectContaining({
            [`ed25519:${aliceUser.deviceId}`]: expect.any(String),
          }),
        },
      },
    });
    // Secret storage holds the backup decryption key, encrypted with the recovery key.
    const stored = await get(
      `/user/${enc(aliceUser.userId)}/account_data/m.megolm_backup.v1`,
      aliceUser.accessToken,
    );
    expect(stored).toEqual({
      encrypted: {
        [String(secretStorageKeyId)]: {
          iv: expect.any(String),
          ciphertext: expect.any(String),
          mac: expect.any(String),
        },
      },
    });
  });

  it('room keys of an encrypted conversation reach the backup, as opaque session data', async () => {
    ({ room_id: roomId } = await alice.createRoom({
      name: 'Backed up',
      invite: [bobUser.userId],
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
    await until(
      () => alice.getRoom(roomId)?.getMember(bobUser.userId)?.membership === 'join',
      'the join',
    );
    for (const [sender, body] of conversation) {
      await sender().sendMessage(roomId, { msgtype: MsgType.Text, body });
      const sent = bodies.slice(0, bodies.indexOf(body) + 1);
      await until(
        () =>
          plaintexts(alice.getRoom(roomId)).length === sent.length &&
          plaintexts(bob.getRoom(roomId)).length === sent.length,
        `"${body}" decrypted on both sides`,
      );
    }
    expect(plaintexts(alice.getRoom(roomId))).toEqual(bodies);

    // The room's Megolm sessions, Alice's and Bob's: Alice's device holds the keys of both.
    const messages = await get(
      `/rooms/${enc(roomId)}/messages?dir=f&limit=100`,
      bobUser.accessToken,
    );
    const sessionIds = [
      ...new Set(
        (messages.chunk as Json[])
          .filter((event) => event.type === 'm.room.encrypted')
          .map((event) => event.content.session_id as string),
      ),
    ].sort();
    expect(sessionIds).toHaveLength(2);

    // The backup loop uploads after a random delay of up to 10 s.
    const backedUp = async () =>
      (await get(`/room_keys/keys?version=${backupVersion}`, aliceUser.accessToken)) as Json;
    await until(
      async () => Object.keys((await backedUp()).rooms[roomId]?.sessions ?? {}).length === 2,
      'both sessions in the backup',
      90_000,
    );
    const keys = await backedUp();
    expect(Object.keys(keys.rooms)).toEqual([roomId]);
    expect(Object.keys(keys.rooms[roomId].sessions).sort()).toEqual(sessionIds);
    for (const session of Object.values(keys.rooms[roomId].sessions) as Json[]) {
      expect(session).toEqual({
        first_message_index: 0,
        forwarded_count: 0,
        is_verified: expect.any(Boolean),
        session_data: {
          ciphertext: expect.any(String),
          ephemeral: expect.any(String),
          mac: expect.any(String),
        },
      });
    }
    const everything = JSON.stringify(keys);
    for (const body of bodies) expect(everything).not.toContain(body);

    // The version's count and etag are those of the last upload's answer, and what the client reads.
    await until(
      async () => (await uploadResponses.at(-1))?.count === 2,
      'the last upload to be answered',
    );
    const lastUpload = await uploadResponses.at(-1);
    expect(lastUpload).toEqual({ count: 2, etag: expect.any(String) });
    const version = await get(`/room_keys/version/${backupVersion}`, aliceUser.accessToken);
    expect(version).toMatchObject({ version: backupVersion, count: 2, etag: lastUpload.etag });
    const seenByClient = await cryptoOf(alice).checkKeyBackupAndEnable();
    expect(seenByClient?.backupInfo).toMatchObject({ count: 2, etag: lastUpload.etag });
  });

  it('a new device restores the backup with the recovery key and decrypts the history', async () => {
    const login = await server.login('alice', 'alice-password');
    const second = await clients.start(
      { userId: login.user_id, deviceId: login.device_id, accessToken: login.access_token },
      // The user types in the recovery key the first device showed.
      {
        cryptoCallbacks: secretStorageCallbacks(() =>
          secretStorageKeyId === undefined
            ? undefined
            : {
                keyId: secretStorageKeyId,
                key: decodeRecoveryKey(String(recoveryKey.encodedPrivateKey)),
              },
        ),
      },
    );
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
    expect(restored.total).toBe(2);
    await until(
      () => decrypted().length === bodies.length,
      'the history decrypted with the restored keys',
    );
    expect(decrypted()).toEqual(bodies);
    expect(plaintexts(second.getRoom(roomId))).toEqual(bodies);
  });
});
