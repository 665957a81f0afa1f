import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountServer, type Json } from '../helpers/account-server.js';
import { RoomUser, V3, createRoomUsers, enc } from '../helpers/room-users.js';

/** Send-to-device messaging and device-list tracking over HTTP, as clients see them in /sync. */
describe('to-device messages and device lists', () => {
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

  /** Another session (a new device) of a user. */
  async function newDevice(user: RoomUser, extra: Record<string, unknown> = {}): Promise<RoomUser> {
    const localpart = user.userId.slice(1, user.userId.indexOf(':'));
    const body = await server.login(localpart, `${localpart}-password`, extra);
    return new RoomUser(server, user.userId, body.access_token, body.device_id);
  }

  async function sync(user: RoomUser, query: Record<string, string> = {}): Promise<Json> {
    const search = new URLSearchParams(query).toString();
    return user.ok('GET', `/sync${search === '' ? '' : `?${search}`}`);
  }

  function sendToDevice(
    user: RoomUser,
    messages: unknown,
    options: { type?: string; txnId?: string } = {},
  ) {
    const type = options.type ?? 'org.example.ping';
    const txnId = options.txnId ?? user.nextTxn();
    return user.call('PUT', `/sendToDevice/${enc(type)}/${enc(txnId)}`, { messages });
  }

  /** Waits until some long-poll is waiting on the notifier. */
  async function untilWaiting(): Promise<void> {
    while (server.context.services.notifier.waiting === 0) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  const toDeviceOf = (body: Json) => body.to_device.events as Json[];

  describe('sending and delivery', () => {
    it('delivers a message to the one device it names, with sender, type and content', async () => {
      const [alice, bob] = await users('alice', 'bob');
      const laptop = await newDevice(bob);
      const sent = await sendToDevice(alice, { [bob.userId]: { [bob.deviceId]: { n: 1 } } });
      expect(sent).toEqual({ status: 200, body: {} });

      expect(toDeviceOf(await sync(bob))).toEqual([
        { sender: alice.userId, type: 'org.example.ping', content: { n: 1 } },
      ]);
      expect(toDeviceOf(await sync(laptop))).toEqual([]);
    });

    it('`*` reaches every device of the user; a named device gets its own message', async () => {
      const [alice, bob] = await users('alice', 'bob');
      const laptop = await newDevice(bob);
      const tablet = await newDevice(bob);
      await sendToDevice(alice, {
        [bob.userId]: { '*': { all: true }, [tablet.deviceId]: { own: 1 } },
      });
      expect(toDeviceOf(await sync(bob)).map((e: Json) => e.content)).toEqual([{ all: true }]);
      expect(toDeviceOf(await sync(laptop)).map((e: Json) => e.content)).toEqual([{ all: true }]);
      expect(toDeviceOf(await sync(tablet)).map((e: Json) => e.content)).toEqual([{ own: 1 }]);
    });

    it('a retry with the same transaction ID sends nothing again; another path is a new request', async () => {
      const [alice, bob] = await users('alice', 'bob');
      const messages = { [bob.userId]: { [bob.deviceId]: { once: true } } };
      expect((await sendToDevice(alice, messages, { txnId: 'same' })).status).toBe(200);
      expect(await sendToDevice(alice, messages, { txnId: 'same' })).toEqual({
        status: 200,
        body: {},
      });
      expect(
        (await sendToDevice(alice, messages, { txnId: 'same', type: 'org.example.other' })).status,
      ).toBe(200);
      // The same ID from another device of the sender is another request too.
      const aliceLaptop = await newDevice(alice);
      expect((await sendToDevice(aliceLaptop, messages, { txnId: 'same' })).status).toBe(200);
      expect(toDeviceOf(await sync(bob)).map((e: Json) => e.type)).toEqual([
        'org.example.ping',
        'org.example.other',
        'org.example.ping',
      ]);
    });

    it('messages wait until a sync acknowledges them, then are deleted', async () => {
      const [alice, bob] = await users('alice', 'bob');
      await sendToDevice(alice, { [bob.userId]: { [bob.deviceId]: { n: 1 } } });
      // Two initial syncs: nothing is acknowledged, both deliver.
      const first = await sync(bob);
      expect(toDeviceOf(first)).toHaveLength(1);
      expect(toDeviceOf(await sync(bob))).toHaveLength(1);

      await sendToDevice(alice, { [bob.userId]: { [bob.deviceId]: { n: 2 } } });
      // Incremental from the first: only what came after it; the first message is acknowledged.
      const second = await sync(bob, { since: first.next_batch });
      expect(toDeviceOf(second).map((e: Json) => e.content)).toEqual([{ n: 2 }]);
      // The same token again (a retried sync) delivers the second message again.
      const retried = await sync(bob, { since: first.next_batch });
      expect(toDeviceOf(retried).map((e: Json) => e.content)).toEqual([{ n: 2 }]);
      const third = await sync(bob, { since: second.next_batch });
      expect(toDeviceOf(third)).toEqual([]);
      // Both are gone: even an initial sync no longer has them.
      expect(toDeviceOf(await sync(bob))).toEqual([]);
    });

    it('delivers at most 100 messages per sync, the rest in the next one', async () => {
      const [alice, bob] = await users('alice', 'bob');
      for (let n = 1; n <= 130; n++) {
        const sent = await sendToDevice(alice, { [bob.userId]: { [bob.deviceId]: { n } } });
        expect(sent.status).toBe(200);
      }
      const first = await sync(bob);
      expect(toDeviceOf(first).map((e: Json) => e.content.n)).toEqual(
        Array.from({ length: 100 }, (_, i) => i + 1),
      );
      // The response is not empty, so a long-poll would not wait; the rest comes next.
      const second = await sync(bob, { since: first.next_batch, timeout: '10000' });
      expect(toDeviceOf(second).map((e: Json) => e.content.n)).toEqual(
        Array.from({ length: 30 }, (_, i) => i + 101),
      );
      const third = await sync(bob, { since: second.next_batch });
      expect(toDeviceOf(third)).toEqual([]);
    });

    it('a long-poll wakes up for a to-device message', async () => {
      const [alice, bob] = await users('alice', 'bob');
      const { next_batch: since } = await sync(bob);
      const polling = sync(bob, { since, timeout: '30000' });
      await untilWaiting();
      await sendToDevice(alice, { [bob.userId]: { [bob.deviceId]: { wake: 'up' } } });
      const body = await polling;
      expect(toDeviceOf(body)).toEqual([
        { sender: alice.userId, type: 'org.example.ping', content: { wake: 'up' } },
      ]);
    });

    it('the messages of a deleted device go with it', async () => {
      const [alice, bob] = await users('alice', 'bob');
      const laptop = await newDevice(bob);
      await sendToDevice(alice, { [bob.userId]: { [laptop.deviceId]: { lost: true } } });
      expect((await laptop.call('POST', '/logout', {})).status).toBe(200);
      // A new session with the same device ID is a new device: nothing waits for it.
      const again = await newDevice(bob, { device_id: laptop.deviceId });
      expect(again.deviceId).toBe(laptop.deviceId);
      expect(toDeviceOf(await sync(again))).toEqual([]);
    });

    it('skips unknown local users and devices, and drops messages for other servers', async () => {
      const [alice, bob] = await users('alice', 'bob');
      const sent = await sendToDevice(alice, {
        '@nobody:alpha.test': { '*': { a: 1 } },
        [bob.userId]: { NOSUCHDEVICE: { b: 1 } },
        '@someone:beta.test': { '*': { c: 1 }, DEV: { d: 1 } },
      });
      expect(sent).toEqual({ status: 200, body: {} });
      expect(toDeviceOf(await sync(bob))).toEqual([]);
    });
  });

  describe('errors', () => {
    let alice: RoomUser;
    let bob: RoomUser;

    beforeAll(async () => {
      [alice, bob] = await users('alice', 'bob');
    });

    it('a body without messages is 400 M_MISSING_PARAM', async () => {
      const response = await alice.call('PUT', '/sendToDevice/m.x/t1', {});
      expect(response.status).toBe(400);
      expect(response.body.errcode).toBe('M_MISSING_PARAM');
    });

    it.each([
      ['messages is not an object', { messages: [] }],
      ['a user entry is not an object', { messages: { '@bob:alpha.test': 'x' } }],
      ['a message is not an object', { messages: { '@bob:alpha.test': { DEV: 1 } } }],
    ])('%s: 400 M_BAD_JSON', async (_, body) => {
      const response = await alice.call('PUT', '/sendToDevice/m.x/t2', body);
      expect(response.status).toBe(400);
      expect(response.body.errcode).toBe('M_BAD_JSON');
    });

    it('a malformed user ID is 400 M_INVALID_PARAM, and nothing is sent', async () => {
      const response = await alice.call('PUT', '/sendToDevice/m.x/t3', {
        messages: { [bob.userId]: { '*': { a: 1 } }, 'not-a-user': { '*': { a: 1 } } },
      });
      expect(response.status).toBe(400);
      expect(response.body.errcode).toBe('M_INVALID_PARAM');
      expect(toDeviceOf(await sync(bob))).toEqual([]);
    });

    it('a body that is not JSON is 400 M_NOT_JSON; no token is 401', async () => {
      const notJson = await server.call('PUT', `${V3}/sendToDevice/m.x/t4`, {
        token: alice.token,
        rawBody: '{messages',
      });
      expect(notJson.status).toBe(400);
      expect(notJson.body.errcode).toBe('M_NOT_JSON');
      const anonymous = await server.call('PUT', `${V3}/sendToDevice/m.x/t5`, {
        body: { messages: {} },
      });
      expect(anonymous.status).toBe(401);
      expect(anonymous.body.errcode).toBe('M_MISSING_TOKEN');
    });
  });

  describe('device lists', () => {
    const listsOf = (body: Json) => body.device_lists as { changed: string[]; left: string[] };

    it('an initial sync has empty lists', async () => {
      const [alice] = await users('alice');
      expect(listsOf(await sync(alice))).toEqual({ changed: [], left: [] });
    });

    it('a room-mate’s new login is a change, and wakes a long-poll', async () => {
      const [alice, bob, stranger] = await users('alice', 'bob', 'stranger');
      const roomId = await alice.createRoom({ preset: 'public_chat' });
      await bob.join(roomId);
      const { next_batch: since } = await sync(alice);
      const polling = sync(alice, { since, timeout: '30000' });
      await untilWaiting();
      await newDevice(bob);
      const body = await polling;
      expect(listsOf(body)).toEqual({ changed: [bob.userId], left: [] });
      // Someone sharing no room logs in: not Alice's business.
      await newDevice(stranger);
      expect(listsOf(await sync(alice, { since: body.next_batch }))).toEqual({
        changed: [],
        left: [],
      });
    });

    it('renaming or deleting a device is a change; the user sees their own changes', async () => {
      const [alice, bob] = await users('alice', 'bob');
      const roomId = await alice.createRoom({ preset: 'public_chat' });
      await bob.join(roomId);
      const laptop = await newDevice(bob);
      const { next_batch: since } = await sync(alice);
      await bob.ok('PUT', `/devices/${enc(laptop.deviceId)}`, { display_name: 'Laptop' });
      const renamed = await sync(alice, { since });
      expect(listsOf(renamed).changed).toEqual([bob.userId]);
      const bobSince = (await sync(bob)).next_batch;
      expect((await laptop.call('POST', '/logout', {})).status).toBe(200);
      expect(listsOf(await sync(alice, { since: renamed.next_batch })).changed).toEqual([
        bob.userId,
      ]);
      expect(listsOf(await sync(bob, { since: bobSince })).changed).toEqual([bob.userId]);
    });

    it('users newly sharing a room are changes: a room-mate joining, or joining their room', async () => {
      const [alice, bob, carol] = await users('alice', 'bob', 'carol');
      const aliceRoom = await alice.createRoom({ preset: 'public_chat' });
      const carolRoom = await carol.createRoom({ preset: 'public_chat' });
      const { next_batch: since } = await sync(alice);
      await bob.join(aliceRoom);
      const joined = await sync(alice, { since });
      expect(listsOf(joined)).toEqual({ changed: [bob.userId], left: [] });
      await alice.join(carolRoom);
      expect(listsOf(await sync(alice, { since: joined.next_batch }))).toEqual({
        changed: [carol.userId],
        left: [],
      });
    });

    it('a room-mate leaving the only shared room is `left`; leaving one of two is not', async () => {
      const [alice, bob, carol] = await users('alice', 'bob', 'carol');
      const first = await alice.createRoom({ preset: 'public_chat' });
      const second = await alice.createRoom({ preset: 'public_chat' });
      await bob.join(first);
      await carol.join(first);
      await carol.join(second);
      const { next_batch: since } = await sync(alice);
      await bob.leave(first);
      await carol.leave(first);
      const body = await sync(alice, { since });
      expect(listsOf(body)).toEqual({ changed: [], left: [bob.userId] });
      // Bob, who left, no longer shares a room with Alice or Carol.
      await carol.leave(second);
      expect(listsOf(await sync(alice, { since: body.next_batch }))).toEqual({
        changed: [],
        left: [carol.userId],
      });
    });

    it('the syncer leaving a room makes its members `left`', async () => {
      const [alice, bob] = await users('alice', 'bob');
      const roomId = await bob.createRoom({ preset: 'public_chat' });
      await alice.join(roomId);
      const { next_batch: since } = await sync(alice);
      await alice.leave(roomId);
      expect(listsOf(await sync(alice, { since }))).toEqual({ changed: [], left: [bob.userId] });
    });
  });
});
