import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountServer } from '../helpers/account-server.js';
import { RoomUser, createRoomUsers, enc, summarize } from '../helpers/room-users.js';

describe('sending and reading room events', () => {
  let server: AccountServer;
  let alice: RoomUser;
  let bob: RoomUser;
  let carol: RoomUser;
  let admin: RoomUser;
  let roomId: string;
  beforeAll(async () => {
    server = await AccountServer.start();
    [alice, bob, carol] = await createRoomUsers(server, ['alice', 'bob', 'carol']);
    const created = await server.createUser('admin', 'admin-password', { admin: true });
    admin = new RoomUser(server, created.userId, created.accessToken, created.deviceId);
    roomId = await alice.createRoom({ preset: 'public_chat', name: 'Events' });
    await bob.join(roomId);
  });
  afterAll(async () => server?.stop());

  describe('PUT /send', () => {
    it('sends a message and serves it to everyone, the transaction ID to its device only', async () => {
      const sent = await bob.call('PUT', `/rooms/${enc(roomId)}/send/m.room.message/abc`, {
        msgtype: 'm.text',
        body: 'hello',
      });
      expect(sent).toEqual({
        status: 200,
        body: { event_id: expect.stringMatching(/^\$[A-Za-z0-9_-]{43}$/) },
      });
      const eventId = sent.body.event_id;
      const own = await bob.ok('GET', `/rooms/${enc(roomId)}/event/${enc(eventId)}`);
      expect(own).toEqual({
        event_id: eventId,
        room_id: roomId,
        sender: bob.userId,
        type: 'm.room.message',
        content: { msgtype: 'm.text', body: 'hello' },
        origin_server_ts: server.clock.now(),
        unsigned: { age: 0, transaction_id: 'abc', membership: 'join' },
      });
      const seenByAlice = await alice.ok('GET', `/rooms/${enc(roomId)}/event/${enc(eventId)}`);
      expect(seenByAlice.unsigned).toEqual({ age: 0, membership: 'join' });
      // Another device of Bob's does not get the transaction ID either.
      const login = await server.login('bob', 'bob-password');
      const otherDevice = new RoomUser(server, bob.userId, login.access_token, login.device_id);
      expect(
        (await otherDevice.ok('GET', `/rooms/${enc(roomId)}/event/${enc(eventId)}`)).unsigned,
      ).toEqual({
        age: 0,
        membership: 'join',
      });
    });

    it('is idempotent per device and endpoint path', async () => {
      const path = `/rooms/${enc(roomId)}/send/m.room.message/same-txn`;
      const first = await bob.ok('PUT', path, { msgtype: 'm.text', body: 'once' });
      const again = await bob.ok('PUT', path, { msgtype: 'm.text', body: 'once' });
      expect(again.event_id).toBe(first.event_id);
      // Concurrent retries too.
      const racing = await Promise.all(
        [1, 2, 3].map(() =>
          bob.ok('PUT', `/rooms/${enc(roomId)}/send/m.room.message/race`, {
            msgtype: 'm.text',
            body: 'race',
          }),
        ),
      );
      expect(new Set(racing.map((r) => r.event_id)).size).toBe(1);
      // Another device, another event type or another room: another request.
      const login = await server.login('bob', 'bob-password');
      const otherDevice = new RoomUser(server, bob.userId, login.access_token, login.device_id);
      const fromOther = await otherDevice.ok('PUT', path, { msgtype: 'm.text', body: 'once' });
      expect(fromOther.event_id).not.toBe(first.event_id);
      const otherType = await bob.ok('PUT', `/rooms/${enc(roomId)}/send/m.reaction/same-txn`, {});
      expect(otherType.event_id).not.toBe(first.event_id);
      const otherRoom = await alice.createRoom({ preset: 'public_chat' });
      await bob.join(otherRoom);
      const inOtherRoom = await bob.ok(
        'PUT',
        `/rooms/${enc(otherRoom)}/send/m.room.message/same-txn`,
        {
          msgtype: 'm.text',
          body: 'once',
        },
      );
      expect(inOtherRoom.event_id).not.toBe(first.event_id);
      const { chunk } = await bob.messages(roomId, 'dir=b&limit=20');
      expect(summarize(chunk).filter((s) => s === 'once' || s === 'race')).toEqual([
        'once',
        'race',
        'once',
      ]);
    });

    it('answers a retry as the first attempt even once the sender may no longer send', async () => {
      const room = await alice.createRoom({ preset: 'public_chat' });
      await carol.join(room);
      const path = `/rooms/${enc(room)}/send/m.room.message/before-ban`;
      const first = await carol.ok('PUT', path, { msgtype: 'm.text', body: 'last words' });
      await alice.ok('POST', `/rooms/${enc(room)}/ban`, { user_id: carol.userId });
      const retry = await carol.ok('PUT', path, { msgtype: 'm.text', body: 'last words' });
      expect(retry.event_id).toBe(first.event_id);
      // A new transaction ID is refused.
      const fresh = await carol.call('PUT', `/rooms/${enc(room)}/send/m.room.message/after-ban`, {
        msgtype: 'm.text',
        body: 'more',
      });
      expect(fresh.status).toBe(403);
    });

    it('refuses non-members, unknown rooms, malformed IDs, bad JSON and oversized events', async () => {
      expect(
        await carol.call('PUT', `/rooms/${enc(roomId)}/send/m.room.message/t`, { body: 'x' }),
      ).toMatchObject({
        status: 403,
        body: { errcode: 'M_FORBIDDEN' },
      });
      expect(
        await carol.call('PUT', `/rooms/${enc('!nope:alpha.test')}/send/m.room.message/t`, {
          body: 'x',
        }),
      ).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
      expect(
        await bob.call('PUT', `/rooms/nope/send/m.room.message/t`, { body: 'x' }),
      ).toMatchObject({
        status: 400,
        body: { errcode: 'M_INVALID_PARAM' },
      });
      expect(
        await bob.call('PUT', `/rooms/${enc(roomId)}/send/m.room.message/t`, [1, 2]),
      ).toMatchObject({
        status: 400,
        body: { errcode: 'M_BAD_JSON' },
      });
      expect(
        await bob.call('PUT', `/rooms/${enc(roomId)}/send/m.room.message/f`, { n: 1.5 }),
      ).toMatchObject({
        status: 400,
        body: { errcode: 'M_BAD_JSON' },
      });
      expect(
        await bob.call('PUT', `/rooms/${enc(roomId)}/send/m.room.message/big`, {
          body: 'x'.repeat(70_000),
        }),
      ).toMatchObject({ status: 413, body: { errcode: 'M_TOO_LARGE' } });
      expect(
        await bob.call('PUT', `/rooms/${enc(roomId)}/send/${'t'.repeat(300)}/long`, { body: 'x' }),
      ).toMatchObject({ status: 413, body: { errcode: 'M_TOO_LARGE' } });
    });

    it('needs the power level the event type asks for', async () => {
      const guarded = await alice.createRoom({
        preset: 'public_chat',
        power_level_content_override: { events: { 'org.example.guarded': 50 } },
      });
      await bob.join(guarded);
      expect(
        await bob.call('PUT', `/rooms/${enc(guarded)}/send/org.example.guarded/t`, {}),
      ).toMatchObject({
        status: 403,
        body: { errcode: 'M_FORBIDDEN', error: expect.stringContaining('power level') },
      });
      await alice.ok('PUT', `/rooms/${enc(guarded)}/send/org.example.guarded/t`, {});
    });
  });

  describe('state', () => {
    it('sets and reads state with and without a state key', async () => {
      const topic = await alice.call('PUT', `/rooms/${enc(roomId)}/state/m.room.topic`, {
        topic: 'one',
      });
      expect(topic.status).toBe(200);
      expect(await bob.ok('GET', `/rooms/${enc(roomId)}/state/m.room.topic`)).toEqual({
        topic: 'one',
      });
      await alice.ok('PUT', `/rooms/${enc(roomId)}/state/m.room.topic/`, { topic: 'two' });
      expect(await bob.ok('GET', `/rooms/${enc(roomId)}/state/m.room.topic/`)).toEqual({
        topic: 'two',
      });
      await alice.ok('PUT', `/rooms/${enc(roomId)}/state/org.example.widget/w%2F1`, { url: 'x' });
      expect(await bob.ok('GET', `/rooms/${enc(roomId)}/state/org.example.widget/w%2F1`)).toEqual({
        url: 'x',
      });
      const event = await bob.ok('GET', `/rooms/${enc(roomId)}/state/m.room.topic?format=event`);
      expect(event).toMatchObject({
        event_id: topic.body.event_id === event.event_id ? topic.body.event_id : expect.any(String),
        type: 'm.room.topic',
        state_key: '',
        sender: alice.userId,
        content: { topic: 'two' },
        unsigned: { replaces_state: topic.body.event_id, prev_content: { topic: 'one' } },
      });
      expect(await bob.call('GET', `/rooms/${enc(roomId)}/state/m.room.nothing`)).toMatchObject({
        status: 404,
        body: { errcode: 'M_NOT_FOUND' },
      });
    });

    it('serves the whole state', async () => {
      const state = await bob.ok('GET', `/rooms/${enc(roomId)}/state`);
      expect(summarize(state)).toEqual(
        expect.arrayContaining([
          'm.room.create',
          'm.room.join_rules',
          'm.room.name',
          `m.room.member ${alice.userId}`,
          `m.room.member ${bob.userId}`,
        ]),
      );
      expect(await carol.call('GET', `/rooms/${enc(roomId)}/state`)).toMatchObject({ status: 403 });
      expect(await carol.call('GET', `/rooms/${enc('!nope:alpha.test')}/state`)).toMatchObject({
        status: 403,
        body: { errcode: 'M_FORBIDDEN' },
      });
    });

    it('checks power and content', async () => {
      expect(
        await bob.call('PUT', `/rooms/${enc(roomId)}/state/m.room.name`, { name: 'Mine' }),
      ).toMatchObject({
        status: 403,
        body: { errcode: 'M_FORBIDDEN' },
      });
      for (const [type, content] of [
        ['m.room.name', { name: 5 }],
        ['m.room.power_levels', { ban: 'fifty' }],
        ['m.room.power_levels', { users: { bob: 10 } }],
        ['m.room.history_visibility', { history_visibility: 'everyone' }],
        ['m.room.join_rules', {}],
      ] as const) {
        expect(
          await alice.call('PUT', `/rooms/${enc(roomId)}/state/${type}`, content),
          type,
        ).toMatchObject({
          status: 400,
          body: { errcode: 'M_BAD_JSON' },
        });
      }
      expect(
        await alice.call('PUT', `/rooms/${enc(roomId)}/state/m.room.canonical_alias`, {
          alias: 'nope',
        }),
      ).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
      expect(
        await alice.call('PUT', `/rooms/${enc(roomId)}/state/m.room.canonical_alias`, {
          alias: '#free:alpha.test',
        }),
      ).toMatchObject({ status: 400, body: { errcode: 'M_BAD_ALIAS' } });
      await alice.ok('PUT', `/directory/room/${enc('#events:alpha.test')}`, { room_id: roomId });
      await alice.ok('PUT', `/rooms/${enc(roomId)}/state/m.room.canonical_alias`, {
        alias: '#events:alpha.test',
      });
      expect(
        await alice.call('PUT', `/rooms/${enc(roomId)}/state/m.room.redaction`, {}),
      ).toMatchObject({
        status: 400,
      });
      // A member event through /state: state key must be a user ID, membership known.
      expect(
        await alice.call('PUT', `/rooms/${enc(roomId)}/state/m.room.member/${enc(carol.userId)}`, {
          membership: 'party',
        }),
      ).toMatchObject({ status: 400, body: { errcode: 'M_BAD_JSON' } });
      await alice.ok('PUT', `/rooms/${enc(roomId)}/state/m.room.member/${enc(carol.userId)}`, {
        membership: 'invite',
      });
      expect(
        await bob.ok('GET', `/rooms/${enc(roomId)}/state/m.room.member/${enc(carol.userId)}`),
      ).toEqual({ membership: 'invite' });
    });
  });

  describe('members', () => {
    it('lists members, filtered by membership', async () => {
      const room = await alice.createRoom({ preset: 'public_chat' });
      await bob.join(room);
      await alice.invite(room, carol.userId);
      const all = await bob.ok('GET', `/rooms/${enc(room)}/members`);
      expect(
        all.chunk.map((e: { state_key: string; content: { membership: string } }) => [
          e.state_key,
          e.content.membership,
        ]),
      ).toEqual([
        [alice.userId, 'join'],
        [bob.userId, 'join'],
        [carol.userId, 'invite'],
      ]);
      const invited = await bob.ok('GET', `/rooms/${enc(room)}/members?membership=invite`);
      expect(summarize(invited.chunk)).toEqual([`m.room.member ${carol.userId}`]);
      const notJoined = await bob.ok('GET', `/rooms/${enc(room)}/members?not_membership=join`);
      expect(summarize(notJoined.chunk)).toEqual([`m.room.member ${carol.userId}`]);
      // membership OR not not_membership.
      const either = await bob.ok(
        'GET',
        `/rooms/${enc(room)}/members?membership=invite&not_membership=invite`,
      );
      expect(either.chunk).toHaveLength(3);
      expect(await bob.call('GET', `/rooms/${enc(room)}/members?membership=party`)).toMatchObject({
        status: 400,
        body: { errcode: 'M_INVALID_PARAM' },
      });

      // `at` a token from before Carol's invite; the state then.
      const before = (await bob.messages(room, 'dir=b&limit=2')).end as string;
      const atBefore = await bob.ok('GET', `/rooms/${enc(room)}/members?at=${before}`);
      expect(summarize(atBefore.chunk)).toEqual([`m.room.member ${alice.userId}`]);
      expect(await bob.call('GET', `/rooms/${enc(room)}/members?at=garbage`)).toMatchObject({
        status: 400,
        body: { errcode: 'M_INVALID_PARAM' },
      });

      // After leaving: the members as of the departure.
      await bob.leave(room);
      await carol.join(room);
      const departed = await bob.ok('GET', `/rooms/${enc(room)}/members`);
      expect(
        departed.chunk.map((e: { state_key: string; content: { membership: string } }) => [
          e.state_key,
          e.content.membership,
        ]),
      ).toEqual([
        [alice.userId, 'join'],
        [bob.userId, 'leave'],
        [carol.userId, 'invite'],
      ]);
      expect(await bob.call('GET', `/rooms/${enc(room)}/joined_members`)).toMatchObject({
        status: 403,
        body: { errcode: 'M_FORBIDDEN' },
      });
    });
  });

  describe('redactions', () => {
    for (const version of ['12', '10']) {
      it(`redacts an event in a v${version} room: content gone, redacted_because set`, async () => {
        const room = await alice.createRoom({ preset: 'public_chat', room_version: version });
        await bob.join(room);
        const message = await bob.send(room, 'regrettable');
        const redaction = await bob.ok('PUT', `/rooms/${enc(room)}/redact/${enc(message)}/r1`, {
          reason: 'oops',
        });
        const again = await bob.ok('PUT', `/rooms/${enc(room)}/redact/${enc(message)}/r1`, {
          reason: 'oops',
        });
        expect(again.event_id).toBe(redaction.event_id);
        const served = await alice.ok('GET', `/rooms/${enc(room)}/event/${enc(message)}`);
        expect(served.content).toEqual({});
        expect(served.unsigned.redacted_because).toMatchObject({
          event_id: redaction.event_id,
          type: 'm.room.redaction',
          sender: bob.userId,
          redacts: message,
          content: version === '12' ? { reason: 'oops', redacts: message } : { reason: 'oops' },
        });
        const { chunk } = await alice.messages(room, 'dir=b&limit=2');
        expect(chunk[0].event_id).toBe(redaction.event_id);
        expect(chunk[1]).toMatchObject({ event_id: message, content: {} });
        // The raw redaction event keeps `redacts` where the version puts it.
        const pdu = await server.context.services.roomGraph.getEvent(redaction.event_id);
        if (version === '12') expect(pdu?.pdu.content).toMatchObject({ redacts: message });
        else expect(pdu?.pdu.redacts).toBe(message);
      });
    }

    it('needs the redact level for others, except server admins for local users', async () => {
      const room = await alice.createRoom({ preset: 'public_chat' });
      await bob.join(room);
      await carol.join(room);
      await admin.join(room);
      const aliceMessage = await alice.send(room, 'from alice');
      expect(
        await bob.call('PUT', `/rooms/${enc(room)}/redact/${enc(aliceMessage)}/x`, {}),
      ).toMatchObject({
        status: 403,
        body: { errcode: 'M_FORBIDDEN' },
      });
      const carolMessage = await carol.send(room, 'from carol');
      await alice.ok('PUT', `/rooms/${enc(room)}/redact/${enc(carolMessage)}/x`, {});
      await admin.ok('PUT', `/rooms/${enc(room)}/redact/${enc(aliceMessage)}/x`, {});
      expect(
        (await bob.ok('GET', `/rooms/${enc(room)}/event/${enc(aliceMessage)}`)).content,
      ).toEqual({});
      expect(
        await bob.call('PUT', `/rooms/${enc(room)}/redact/${enc('$unknown')}/x`, {}),
      ).toMatchObject({
        status: 400,
        body: { errcode: 'M_INVALID_PARAM' },
      });
      const unknown = '$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
      expect(
        await bob.call('PUT', `/rooms/${enc(room)}/redact/${enc(unknown)}/x`, {}),
      ).toMatchObject({
        status: 404,
        body: { errcode: 'M_NOT_FOUND' },
      });
    });

    it('accepts m.room.redaction through /send in every room version', async () => {
      for (const version of ['12', '10']) {
        const room = await alice.createRoom({ room_version: version });
        const message = await alice.send(room, 'bye');
        await alice.ok('PUT', `/rooms/${enc(room)}/send/m.room.redaction/r`, {
          redacts: message,
          reason: 'r',
        });
        expect(
          (await alice.ok('GET', `/rooms/${enc(room)}/event/${enc(message)}`)).content,
        ).toEqual({});
      }
    });

    it('redacted state keeps what the version keeps, and prev_content is redacted too', async () => {
      const room = await alice.createRoom({ name: 'Secret name' });
      const name = await alice.ok('GET', `/rooms/${enc(room)}/state/m.room.name?format=event`);
      await alice.ok('PUT', `/rooms/${enc(room)}/redact/${enc(name.event_id)}/n`, {});
      expect(await alice.ok('GET', `/rooms/${enc(room)}/state/m.room.name`)).toEqual({});
      await alice.setState(room, 'm.room.name', { name: 'New' });
      const renamed = await alice.ok('GET', `/rooms/${enc(room)}/state/m.room.name?format=event`);
      expect(renamed.unsigned.prev_content).toEqual({});
    });
  });

  describe('GET /event', () => {
    it('is 404 for unknown events, events of other rooms, and events the reader may not see', async () => {
      const other = await alice.createRoom();
      const secret = await alice.send(other, 'secret');
      expect(await bob.call('GET', `/rooms/${enc(other)}/event/${enc(secret)}`)).toMatchObject({
        status: 404,
        body: { errcode: 'M_NOT_FOUND' },
      });
      expect(await alice.call('GET', `/rooms/${enc(roomId)}/event/${enc(secret)}`)).toMatchObject({
        status: 404,
      });
      expect(
        await alice.call('GET', `/rooms/${enc('!nope:alpha.test')}/event/${enc(secret)}`),
      ).toMatchObject({
        status: 404,
      });
      expect(await alice.call('GET', `/rooms/${enc(other)}/event/nope`)).toMatchObject({
        status: 400,
        body: { errcode: 'M_INVALID_PARAM' },
      });
    });
  });
});
