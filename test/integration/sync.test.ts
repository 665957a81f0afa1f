import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountServer, type Json } from '../helpers/account-server.js';

const V3 = '/_matrix/client/v3';
const ALICE = '@alice:alpha.test';
const BOB = '@bob:alpha.test';
const enc = encodeURIComponent;

/** `GET /sync` over HTTP: initial and incremental syncs, filters, long-polls. */
describe('sync', () => {
  let server: AccountServer;
  let alice: string;
  let bob: string;
  let roomId: string;
  let txn = 0;

  beforeAll(async () => {
    server = await AccountServer.start();
    alice = (await server.createUser('alice', 'alice-pw')).accessToken;
    bob = (await server.createUser('bob', 'bob-pw')).accessToken;
    const created = await server.call('POST', `${V3}/createRoom`, {
      token: alice,
      body: { preset: 'public_chat', name: 'Sync room' },
    });
    expect(created.status).toBe(200);
    roomId = created.body.room_id;
    expect(
      (await server.call('POST', `${V3}/join/${enc(roomId)}`, { token: bob, body: {} })).status,
    ).toBe(200);
  });
  afterAll(async () => server?.stop());

  async function send(token: string, body: string, room = roomId): Promise<string> {
    txn += 1;
    const sent = await server.call('PUT', `${V3}/rooms/${enc(room)}/send/m.room.message/t${txn}`, {
      token,
      body: { msgtype: 'm.text', body },
    });
    expect(sent.status).toBe(200);
    return sent.body.event_id as string;
  }

  async function sync(token: string, query: Record<string, string> = {}): Promise<Json> {
    const search = new URLSearchParams(query).toString();
    const response = await server.call('GET', `${V3}/sync${search === '' ? '' : `?${search}`}`, {
      token,
    });
    expect(response.status).toBe(200);
    return response.body;
  }

  const bodies = (room: Json) =>
    room.timeline.events
      .filter((e: Json) => e.type === 'm.room.message')
      .map((e: Json) => e.content.body);

  it('initial sync: the last events, the state before them, limited with a usable prev_batch', async () => {
    const first = await send(alice, 'one');
    await send(bob, 'two');
    await send(alice, 'three');
    const body = await sync(bob, { filter: JSON.stringify({ room: { timeline: { limit: 2 } } }) });
    expect(body.next_batch).toMatch(/^s\d+_\d+_\d+_\d+_\d+_\d+_\d+$/);
    const room = body.rooms.join[roomId];
    expect(bodies(room)).toEqual(['two', 'three']);
    expect(room.timeline.limited).toBe(true);
    // The state at the start of the timeline: the room's state events, Bob's join included.
    const stateTypes = room.state.events.map((e: Json) => `${e.type}|${e.state_key}`);
    expect(stateTypes).toEqual(
      expect.arrayContaining([
        'm.room.create|',
        'm.room.name|',
        `m.room.member|${ALICE}`,
        `m.room.member|${BOB}`,
        'm.room.power_levels|',
      ]),
    );
    expect(
      room.state.events.every((e: Json) => e.event_id !== room.timeline.events[0].event_id),
    ).toBe(true);
    // Bob has no read receipt: Alice's "one" and "three" are unread, not his own "two".
    expect(room.unread_notifications).toEqual({ notification_count: 2, highlight_count: 0 });

    const messages = await server.call(
      'GET',
      `${V3}/rooms/${enc(roomId)}/messages?dir=b&limit=1&from=${room.timeline.prev_batch}`,
      { token: bob },
    );
    expect(messages.status).toBe(200);
    expect(messages.body.chunk.map((e: Json) => e.event_id)).toEqual([first]);
  });

  it('incremental sync after one message returns exactly that event', async () => {
    const { next_batch: since } = await sync(bob);
    const eventId = await send(alice, 'just this');
    const body = await sync(bob, { since });
    expect(Object.keys(body.rooms.join)).toEqual([roomId]);
    const room = body.rooms.join[roomId];
    expect(room.timeline.events.map((e: Json) => e.event_id)).toEqual([eventId]);
    expect(room.timeline.limited).toBe(false);
    expect(room.state.events).toEqual([]);
    // Nothing new: the room is left out.
    const again = await sync(bob, { since: body.next_batch });
    expect(again.rooms.join).toEqual({});
  });

  it('a limited incremental sync sends the state delta', async () => {
    const { next_batch: since } = await sync(bob);
    await server.call('PUT', `${V3}/rooms/${enc(roomId)}/state/m.room.topic/`, {
      token: alice,
      body: { topic: 'new topic' },
    });
    await send(alice, 'a');
    await send(alice, 'b');
    const body = await sync(bob, {
      since,
      filter: JSON.stringify({ room: { timeline: { limit: 1 } } }),
    });
    const room = body.rooms.join[roomId];
    expect(bodies(room)).toEqual(['b']);
    expect(room.timeline.limited).toBe(true);
    expect(room.state.events.map((e: Json) => e.type)).toEqual(['m.room.topic']);
  });

  it('typing, receipts and account data', async () => {
    const { next_batch: since } = await sync(bob);
    const eventId = await send(alice, 'read me');
    await server.call('PUT', `${V3}/rooms/${enc(roomId)}/typing/${enc(ALICE)}`, {
      token: alice,
      body: { typing: true, timeout: 10_000 },
    });
    await server.call('POST', `${V3}/rooms/${enc(roomId)}/receipt/m.read/${enc(eventId)}`, {
      token: bob,
      body: {},
    });
    await server.call('PUT', `${V3}/user/${enc(BOB)}/account_data/org.example.global`, {
      token: bob,
      body: { a: 1 },
    });
    await server.call(
      'PUT',
      `${V3}/user/${enc(BOB)}/rooms/${enc(roomId)}/account_data/org.example.room`,
      {
        token: bob,
        body: { b: 2 },
      },
    );
    const body = await sync(bob, { since });
    const room = body.rooms.join[roomId];
    expect(room.ephemeral.events).toEqual(
      expect.arrayContaining([
        { type: 'm.typing', content: { user_ids: [ALICE] } },
        {
          type: 'm.receipt',
          content: { [eventId]: { 'm.read': { [BOB]: { ts: expect.any(Number) } } } },
        },
      ]),
    );
    expect(room.unread_notifications.notification_count).toBe(0);
    expect(room.account_data.events).toEqual([{ type: 'org.example.room', content: { b: 2 } }]);
    expect(body.account_data.events).toEqual([{ type: 'org.example.global', content: { a: 1 } }]);
    await server.call('PUT', `${V3}/rooms/${enc(roomId)}/typing/${enc(ALICE)}`, {
      token: alice,
      body: { typing: false },
    });
  });

  it('an invite appears with stripped state, then moves to join; a leave appears in leave', async () => {
    const created = await server.call('POST', `${V3}/createRoom`, {
      token: alice,
      body: { preset: 'private_chat', name: 'Secret' },
    });
    const secret = created.body.room_id as string;
    const { next_batch: since } = await sync(bob);
    await server.call('POST', `${V3}/rooms/${enc(secret)}/invite`, {
      token: alice,
      body: { user_id: BOB },
    });
    const invited = await sync(bob, { since });
    const stripped = invited.rooms.invite[secret].invite_state.events;
    expect(stripped.map((e: Json) => `${e.type}|${e.state_key}`).sort()).toEqual(
      [
        'm.room.create|',
        'm.room.join_rules|',
        'm.room.name|',
        `m.room.member|${ALICE}`,
        `m.room.member|${BOB}`,
      ].sort(),
    );
    expect(stripped.find((e: Json) => e.state_key === BOB).content.membership).toBe('invite');
    expect(invited.rooms.join).toEqual({});

    expect(
      (await server.call('POST', `${V3}/join/${enc(secret)}`, { token: bob, body: {} })).status,
    ).toBe(200);
    const joined = await sync(bob, { since: invited.next_batch });
    expect(joined.rooms.invite).toEqual({});
    const room = joined.rooms.join[secret];
    // A newly joined room comes whole (state and timeline together hold all the room's state).
    const all = [...room.state.events, ...room.timeline.events].map((e: Json) => e.type);
    expect(all).toEqual(
      expect.arrayContaining(['m.room.create', 'm.room.name', 'm.room.join_rules']),
    );
    expect(room.timeline.events.at(-1)).toMatchObject({ type: 'm.room.member', state_key: BOB });

    await send(alice, 'before leaving', secret);
    expect(
      (await server.call('POST', `${V3}/rooms/${enc(secret)}/leave`, { token: bob, body: {} }))
        .status,
    ).toBe(200);
    await send(alice, 'after leaving', secret);
    const left = await sync(bob, { since: joined.next_batch });
    expect(left.rooms.join[secret]).toBeUndefined();
    const leave = left.rooms.leave[secret];
    expect(bodies(leave)).toEqual(['before leaving']);
    expect(leave.timeline.events.at(-1)).toMatchObject({
      type: 'm.room.member',
      state_key: BOB,
      content: { membership: 'leave' },
    });
    // Initial syncs list left rooms only with include_leave.
    expect((await sync(bob)).rooms.leave[secret]).toBeUndefined();
    const withLeave = await sync(bob, {
      filter: JSON.stringify({ room: { include_leave: true } }),
    });
    expect(bodies(withLeave.rooms.leave[secret])).toEqual(['before leaving']);
  });

  it('filters: stored filter IDs, room lists, timeline types, lazy-loaded members', async () => {
    const stored = await server.call('POST', `${V3}/user/${enc(BOB)}/filter`, {
      token: bob,
      body: { room: { rooms: [roomId], timeline: { limit: 3, types: ['m.room.message'] } } },
    });
    expect(stored.status).toBe(200);
    const body = await sync(bob, { filter: stored.body.filter_id });
    expect(Object.keys(body.rooms.join)).toEqual([roomId]);
    const room = body.rooms.join[roomId];
    expect(room.timeline.events).toHaveLength(3);
    expect(room.timeline.events.every((e: Json) => e.type === 'm.room.message')).toBe(true);

    const lazy = await sync(bob, {
      filter: JSON.stringify({
        room: { timeline: { limit: 1, senders: [ALICE] }, state: { lazy_load_members: true } },
      }),
    });
    const members = lazy.rooms.join[roomId].state.events
      .filter((e: Json) => e.type === 'm.room.member')
      .map((e: Json) => e.state_key)
      .sort();
    expect(members).toEqual([ALICE, BOB]);
    expect(lazy.rooms.join[roomId].summary).toEqual({
      'm.heroes': [ALICE],
      'm.joined_member_count': 2,
      'm.invited_member_count': 0,
    });

    const unknown = await server.call('GET', `${V3}/sync?filter=nosuchfilter`, { token: bob });
    expect(unknown.status).toBe(404);
    expect(unknown.body.errcode).toBe('M_NOT_FOUND');
    const malformed = await server.call('GET', `${V3}/sync?filter=${enc('{"room":')}`, {
      token: bob,
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body.errcode).toBe('M_BAD_JSON');
    const invalid = await server.call('GET', `${V3}/sync?filter=${enc('{"room":{"rooms":"x"}}')}`, {
      token: bob,
    });
    expect(invalid.status).toBe(400);
    expect(invalid.body.errcode).toBe('M_INVALID_PARAM');
  });

  it('a bad since token is 400 M_INVALID_PARAM', async () => {
    const response = await server.call('GET', `${V3}/sync?since=garbage`, { token: bob });
    expect(response.status).toBe(400);
    expect(response.body.errcode).toBe('M_INVALID_PARAM');
  });

  it('a long-poll returns with the event another user sends', async () => {
    const { next_batch: since } = await sync(bob);
    const polling = sync(bob, { since, timeout: '30000' });
    // Send once the long-poll is waiting.
    while (server.context.services.notifier.waiting === 0) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const eventId = await send(alice, 'wake up');
    const body = await polling;
    expect(body.rooms.join[roomId].timeline.events.map((e: Json) => e.event_id)).toEqual([eventId]);
  });

  it('a long-poll with nothing happening returns empty after its timeout', async () => {
    const { next_batch: since } = await sync(bob);
    const body = await sync(bob, { since, timeout: '50' });
    expect(body.rooms).toEqual({ join: {}, invite: {}, leave: {}, knock: {} });
    expect(body.next_batch).toBe(since);
  });

  it('a long-poll ends when the client disconnects', async () => {
    const { next_batch: since } = await sync(bob);
    const controller = new AbortController();
    const polling = fetch(`${server.url}${V3}/sync?since=${since}&timeout=30000`, {
      headers: { Authorization: `Bearer ${bob}` },
      signal: controller.signal,
    }).catch(() => 'aborted');
    while (server.context.services.notifier.waiting === 0) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    controller.abort();
    expect(await polling).toBe('aborted');
    while (server.context.services.notifier.waiting !== 0) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  });

  it('set_presence sets the presence of the syncing user', async () => {
    const { next_batch: since } = await sync(alice);
    await sync(bob, { set_presence: 'unavailable' });
    const body = await sync(alice, { since });
    expect(body.presence.events).toEqual([
      expect.objectContaining({
        type: 'm.presence',
        sender: BOB,
        content: expect.objectContaining({ presence: 'unavailable' }),
      }),
    ]);
  });

  it('a rejected invite moves from invite to leave', async () => {
    const created = await server.call('POST', `${V3}/createRoom`, {
      token: alice,
      body: { preset: 'private_chat', invite: [BOB] },
    });
    const other = created.body.room_id as string;
    const { next_batch: since } = await sync(bob);
    expect((await sync(bob)).rooms.invite[other]).toBeDefined();
    await server.call('POST', `${V3}/rooms/${enc(other)}/leave`, { token: bob, body: {} });
    const body = await sync(bob, { since });
    expect(body.rooms.invite[other]).toBeUndefined();
    expect(body.rooms.leave[other].timeline.events.at(-1)).toMatchObject({
      type: 'm.room.member',
      state_key: BOB,
      content: { membership: 'leave' },
    });
  });

  it('full_state sends every joined room whole', async () => {
    const { next_batch: since } = await sync(bob);
    const body = await sync(bob, { since, full_state: 'true' });
    const room = body.rooms.join[roomId];
    expect(room.state.events.map((e: Json) => e.type)).toEqual(
      expect.arrayContaining(['m.room.create', 'm.room.power_levels']),
    );
    expect(room.timeline.events.length).toBeGreaterThan(0);
  });

  it('a long-poll ends when the tenant stops', async () => {
    const { next_batch: since } = await sync(bob);
    const polling = sync(bob, { since, timeout: '30000' });
    while (server.context.services.notifier.waiting === 0) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await server.restart();
    const body = await polling;
    expect(body.rooms.join).toEqual({});
    expect(body.next_batch).toBe(since);
  });
});
