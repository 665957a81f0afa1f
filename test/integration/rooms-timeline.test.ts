import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountServer, type Json } from '../helpers/account-server.js';
import type { RoomUser } from '../helpers/room-users.js';
import { createRoomUsers, enc, summarize } from '../helpers/room-users.js';

const bodies = (chunk: Json[]) => summarize(chunk);

describe('room timelines', () => {
  let server: AccountServer;
  let alice: RoomUser;
  let bob: RoomUser;
  let carol: RoomUser;
  beforeAll(async () => {
    server = await AccountServer.start();
    [alice, bob, carol] = await createRoomUsers(server, ['alice', 'bob', 'carol']);
  });
  afterAll(async () => server?.stop());

  describe('GET /messages', () => {
    let roomId: string;
    const sent: string[] = [];
    beforeAll(async () => {
      roomId = await alice.createRoom({ preset: 'public_chat' });
      await bob.join(roomId);
      for (let i = 1; i <= 7; i++)
        sent.push(await (i % 2 === 0 ? bob : alice).send(roomId, `m${i}`));
    });

    it('pages backwards from the end with exact event lists and tokens', async () => {
      const first = await bob.messages(roomId, 'dir=b&limit=3');
      expect(bodies(first.chunk)).toEqual(['m7', 'm6', 'm5']);
      expect(first.start).toMatch(/^s\d+$/);
      const second = await bob.messages(roomId, `dir=b&limit=3&from=${first.end}`);
      expect(second.start).toBe(first.end);
      expect(bodies(second.chunk)).toEqual(['m4', 'm3', 'm2']);
      const third = await bob.messages(roomId, `dir=b&limit=3&from=${second.end}`);
      expect(bodies(third.chunk)).toEqual([
        'm1',
        `m.room.member ${bob.userId}`,
        'm.room.guest_access',
      ]);
      const rest = await bob.messages(roomId, `dir=b&limit=100&from=${third.end}`);
      expect(bodies(rest.chunk)).toEqual([
        'm.room.history_visibility',
        'm.room.join_rules',
        'm.room.power_levels',
        `m.room.member ${alice.userId}`,
        'm.room.create',
      ]);
      // The start of the room: no `end`.
      expect(rest.end).toBeUndefined();
    });

    it('pages forwards, and back again from a forward token', async () => {
      const start = await bob.messages(roomId, 'dir=f&limit=5');
      expect(bodies(start.chunk)).toEqual([
        'm.room.create',
        `m.room.member ${alice.userId}`,
        'm.room.power_levels',
        'm.room.join_rules',
        'm.room.history_visibility',
      ]);
      const next = await bob.messages(roomId, `dir=f&limit=4&from=${start.end}`);
      expect(bodies(next.chunk)).toEqual([
        'm.room.guest_access',
        `m.room.member ${bob.userId}`,
        'm1',
        'm2',
      ]);
      const back = await bob.messages(roomId, `dir=b&limit=2&from=${next.end}`);
      expect(bodies(back.chunk)).toEqual(['m2', 'm1']);
      const end = await bob.messages(roomId, `dir=f&limit=10&from=${next.end}`);
      expect(bodies(end.chunk)).toEqual(['m3', 'm4', 'm5', 'm6', 'm7']);
      expect(end.end).toBeUndefined();
    });

    it('stops at `to`', async () => {
      const page = await bob.messages(roomId, 'dir=b&limit=2');
      const older = await bob.messages(roomId, `dir=b&limit=3&from=${page.end}`);
      const bounded = await bob.messages(roomId, `dir=b&limit=10&to=${page.end}`);
      expect(bodies(bounded.chunk)).toEqual(['m7', 'm6']);
      const forward = await bob.messages(roomId, `dir=f&limit=10&from=${older.end}&to=${page.end}`);
      expect(bodies(forward.chunk)).toEqual(['m3', 'm4', 'm5']);
    });

    it('accepts a sync token (s<events>_…) as `from`', async () => {
      const page = await bob.messages(roomId, 'dir=b&limit=2');
      const position = (page.end as string).slice(1);
      const fromSync = await bob.messages(roomId, `dir=b&limit=2&from=s${position}_5_0_3_1_0_0`);
      expect(bodies(fromSync.chunk)).toEqual(['m5', 'm4']);
    });

    it('applies limits: default 10, 0 returns nothing, more than 1000 is capped', async () => {
      expect((await bob.messages(roomId, 'dir=b')).chunk).toHaveLength(10);
      const none = await bob.messages(roomId, 'dir=b&limit=0');
      expect(none.chunk).toEqual([]);
      expect(none.end).toBe(none.start);
      expect((await bob.messages(roomId, 'dir=b&limit=5000')).chunk).toHaveLength(14);
    });

    it('filters by type, sender, URL and lazy-loads members', async () => {
      const types = await bob.messages(
        roomId,
        `dir=b&filter=${enc(JSON.stringify({ types: ['m.room.mem*'] }))}`,
      );
      expect(bodies(types.chunk)).toEqual([
        `m.room.member ${bob.userId}`,
        `m.room.member ${alice.userId}`,
      ]);
      const senders = await bob.messages(
        roomId,
        `dir=b&limit=3&filter=${enc(JSON.stringify({ senders: [bob.userId], not_types: ['m.room.member'] }))}`,
      );
      expect(bodies(senders.chunk)).toEqual(['m6', 'm4', 'm2']);
      const notSenders = await bob.messages(
        roomId,
        `dir=f&limit=3&filter=${enc(JSON.stringify({ not_senders: [alice.userId] }))}`,
      );
      expect(bodies(notSenders.chunk)).toEqual([`m.room.member ${bob.userId}`, 'm2', 'm4']);
      await alice.send(roomId, 'picture', { msgtype: 'm.image', url: 'mxc://alpha.test/pic' });
      const urls = await bob.messages(
        roomId,
        `dir=b&filter=${enc(JSON.stringify({ contains_url: true }))}`,
      );
      expect(bodies(urls.chunk)).toEqual(['picture']);
      const lazy = await bob.messages(
        roomId,
        `dir=b&limit=3&filter=${enc(JSON.stringify({ lazy_load_members: true }))}`,
      );
      expect(bodies(lazy.chunk)).toEqual(['picture', 'm7', 'm6']);
      expect(summarize(lazy.state).sort()).toEqual(
        [`m.room.member ${alice.userId}`, `m.room.member ${bob.userId}`].sort(),
      );
    });

    it('refuses bad parameters and readers who are not members', async () => {
      for (const query of [
        'dir=x',
        'dir=b&from=garbage',
        'dir=b&limit=ten',
        'dir=b&filter=notjson',
        'dir=b&filter=%7B%22senders%22%3A5%7D',
      ]) {
        expect(
          await bob.call('GET', `/rooms/${enc(roomId)}/messages?${query}`),
          query,
        ).toMatchObject({
          status: 400,
          body: { errcode: 'M_INVALID_PARAM' },
        });
      }
      expect(await bob.call('GET', `/rooms/${enc(roomId)}/messages`)).toMatchObject({
        status: 400,
        body: { errcode: 'M_MISSING_PARAM' },
      });
      expect(await carol.call('GET', `/rooms/${enc(roomId)}/messages?dir=b`)).toMatchObject({
        status: 403,
        body: { errcode: 'M_FORBIDDEN' },
      });
      expect(
        await carol.call('GET', `/rooms/${enc('!nope:alpha.test')}/messages?dir=b`),
      ).toMatchObject({
        status: 403,
        body: { errcode: 'M_FORBIDDEN' },
      });
    });
  });

  describe('history visibility', () => {
    async function scenario(visibility: string) {
      const roomId = await alice.createRoom({
        preset: 'public_chat',
        initial_state: [
          { type: 'm.room.history_visibility', content: { history_visibility: visibility } },
        ],
      });
      await alice.send(roomId, 'before invite');
      await alice.invite(roomId, bob.userId);
      await alice.send(roomId, 'while invited');
      await bob.join(roomId);
      await alice.send(roomId, 'while joined');
      await bob.leave(roomId);
      await alice.send(roomId, 'after leaving');
      const { chunk } = await bob.messages(roomId, 'dir=f&limit=50');
      return { roomId, seen: bodies(chunk).filter((s) => !s.startsWith('m.room.')) };
    }

    it('joined: only while joined', async () => {
      const { seen } = await scenario('joined');
      expect(seen).toEqual(['while joined']);
    });

    it('invited: from the invite on', async () => {
      const { seen } = await scenario('invited');
      expect(seen).toEqual(['while invited', 'while joined']);
    });

    it('shared: everything before leaving', async () => {
      const { seen } = await scenario('shared');
      expect(seen).toEqual(['before invite', 'while invited', 'while joined']);
    });

    it('world_readable: everything, even for users who never joined', async () => {
      const { roomId, seen } = await scenario('world_readable');
      expect(seen).toEqual(['before invite', 'while invited', 'while joined', 'after leaving']);
      const outsider = await carol.messages(roomId, 'dir=b&limit=1');
      expect(bodies(outsider.chunk)).toEqual(['after leaving']);
      expect(outsider.chunk[0].unsigned.membership).toBe('leave');
      await carol.ok('GET', `/rooms/${enc(roomId)}/state`);
    });

    it("the user's own member events and visibility changes stay visible", async () => {
      const roomId = await alice.createRoom({
        preset: 'public_chat',
        initial_state: [
          { type: 'm.room.history_visibility', content: { history_visibility: 'joined' } },
        ],
      });
      await alice.send(roomId, 'hidden');
      await bob.join(roomId);
      await alice.setState(roomId, 'm.room.history_visibility', { history_visibility: 'shared' });
      await bob.leave(roomId);
      const { chunk } = await bob.messages(roomId, 'dir=f&limit=50');
      // Events before `joined` was set were `shared` (the default), so Bob, who joined later,
      // sees them; the change to `joined` too (visible before it); not what was said while
      // `joined` before he joined; his own join and leave.
      expect(bodies(chunk)).toEqual([
        'm.room.create',
        `m.room.member ${alice.userId}`,
        'm.room.power_levels',
        'm.room.join_rules',
        'm.room.guest_access',
        'm.room.history_visibility',
        `m.room.member ${bob.userId}`,
        'm.room.history_visibility',
        `m.room.member ${bob.userId}`,
      ]);
      expect(chunk.map((e: Json) => e.unsigned.membership)).toEqual([
        'leave',
        'leave',
        'leave',
        'leave',
        'leave',
        'leave',
        'join',
        'join',
        'leave',
      ]);
      const hidden = (await alice.messages(roomId, 'dir=f&limit=50')).chunk.find(
        (e: Json) => e.content.body === 'hidden',
      );
      expect(
        await bob.call('GET', `/rooms/${enc(roomId)}/event/${enc(hidden.event_id)}`),
      ).toMatchObject({
        status: 404,
      });
    });
  });

  describe('GET /context', () => {
    it('returns the events around an event, with tokens /messages continues from', async () => {
      const roomId = await alice.createRoom({ preset: 'public_chat' });
      const ids: string[] = [];
      for (let i = 1; i <= 9; i++) ids.push(await alice.send(roomId, `c${i}`));
      const context = await alice.ok(
        'GET',
        `/rooms/${enc(roomId)}/context/${enc(ids[4] as string)}?limit=4`,
      );
      expect(context.event.content.body).toBe('c5');
      expect(bodies(context.events_before)).toEqual(['c4', 'c3']);
      expect(bodies(context.events_after)).toEqual(['c6', 'c7']);
      expect(summarize(context.state)).toEqual(
        expect.arrayContaining([
          'm.room.create',
          `m.room.member ${alice.userId}`,
          'm.room.join_rules',
        ]),
      );
      const before = await alice.messages(roomId, `dir=b&limit=2&from=${context.start}`);
      expect(bodies(before.chunk)).toEqual(['c2', 'c1']);
      const after = await alice.messages(roomId, `dir=f&limit=2&from=${context.end}`);
      expect(bodies(after.chunk)).toEqual(['c8', 'c9']);

      const filtered = await alice.ok(
        'GET',
        `/rooms/${enc(roomId)}/context/${enc(ids[4] as string)}?limit=2&filter=${enc(JSON.stringify({ types: ['m.room.message'], lazy_load_members: true }))}`,
      );
      expect(filtered.state).toEqual([]);
      const zero = await alice.ok(
        'GET',
        `/rooms/${enc(roomId)}/context/${enc(ids[0] as string)}?limit=0`,
      );
      expect(zero.events_before).toEqual([]);
      expect(zero.events_after).toEqual([]);
      expect(zero.event.event_id).toBe(ids[0]);

      expect(
        await carol.call('GET', `/rooms/${enc(roomId)}/context/${enc(ids[0] as string)}`),
      ).toMatchObject({
        status: 403,
      });
      const unknown = '$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
      expect(
        await alice.call('GET', `/rooms/${enc(roomId)}/context/${enc(unknown)}`),
      ).toMatchObject({
        status: 404,
        body: { errcode: 'M_NOT_FOUND' },
      });
    });
  });

  describe('GET /timestamp_to_event', () => {
    it('finds the closest event in either direction', async () => {
      const roomId = await alice.createRoom({ preset: 'public_chat' });
      const t0 = server.clock.now();
      server.clock.advance(1000);
      const first = await alice.send(roomId, 'first');
      server.clock.advance(1000);
      const second = await alice.send(roomId, 'second');
      const url = (ts: number, dir: string) =>
        `/_matrix/client/v1/rooms/${enc(roomId)}/timestamp_to_event?ts=${ts}&dir=${dir}`;
      expect(await alice.ok('GET', url(t0 + 500, 'f'))).toEqual({
        event_id: first,
        origin_server_ts: t0 + 1000,
      });
      expect(await alice.ok('GET', url(t0 + 1500, 'f'))).toEqual({
        event_id: second,
        origin_server_ts: t0 + 2000,
      });
      expect(await alice.ok('GET', url(t0 + 1500, 'b'))).toEqual({
        event_id: first,
        origin_server_ts: t0 + 1000,
      });
      expect(await alice.ok('GET', url(t0 + 5000, 'b'))).toEqual({
        event_id: second,
        origin_server_ts: t0 + 2000,
      });
      expect(await alice.call('GET', url(t0 + 5000, 'f'))).toMatchObject({
        status: 404,
        body: { errcode: 'M_NOT_FOUND' },
      });
      expect(await alice.call('GET', url(t0, 'x'))).toMatchObject({
        status: 400,
        body: { errcode: 'M_INVALID_PARAM' },
      });
      expect(await carol.call('GET', url(t0, 'f'))).toMatchObject({
        status: 403,
        body: { errcode: 'M_FORBIDDEN' },
      });
    });
  });
});
