import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountServer } from '../helpers/account-server.js';
import { StoredRooms } from '../helpers/stored-rooms.js';

const V3 = '/_matrix/client/v3';
const ALICE = '@alice:alpha.test';
const BOB = '@bob:alpha.test';
const CAROL = '@carol:alpha.test';
const ROOM = '!room:alpha.test';
const CAROLS_ROOM = '!carol:alpha.test';
const enc = encodeURIComponent;

describe('typing, receipts, read markers and presence over HTTP', () => {
  let server: AccountServer;
  let rooms: StoredRooms;
  let alice: string;
  let bob: string;
  let carol: string;
  beforeAll(async () => {
    server = await AccountServer.start();
    alice = (await server.createUser('alice', 'alice-pw')).accessToken;
    bob = (await server.createUser('bob', 'bob-pw')).accessToken;
    carol = (await server.createUser('carol', 'carol-pw')).accessToken;
    // Rooms are written straight into the tenant's database: these endpoints only read them.
    rooms = new StoredRooms(server.context.db);
    await rooms.createRoom(ROOM, [ALICE, BOB]);
    await rooms.createRoom(CAROLS_ROOM, [CAROL]);
  });
  afterAll(async () => server?.stop());

  const services = () => server.context.services;

  describe('PUT /rooms/{roomId}/typing/{userId}', () => {
    const typing = (roomId: string, userId: string) =>
      `${V3}/rooms/${enc(roomId)}/typing/${enc(userId)}`;

    it('sets and clears the typing state, waking members waiting for sync', async () => {
      const since = await services().streamPositions.currentToken();
      const wait = services().notifier.waitForChange(BOB, [ROOM], since, 10_000);
      expect(
        await server.call('PUT', typing(ROOM, ALICE), {
          token: alice,
          body: { typing: true, timeout: 30_000 },
        }),
      ).toEqual({ status: 200, body: {} });
      expect(await wait).toBe('changed');
      expect(services().typing.typingUsers(ROOM)).toEqual([ALICE]);
      const r0 = await server.call(
        'PUT',
        `/_matrix/client/r0/rooms/${enc(ROOM)}/typing/${enc(ALICE)}`,
        {
          token: alice,
          body: { typing: false },
        },
      );
      expect(r0).toEqual({ status: 200, body: {} });
      expect(services().typing.typingUsers(ROOM)).toEqual([]);
      const changes = services().typing.changesSince([ROOM], since.typing);
      expect(changes.get(ROOM)).toEqual({ type: 'm.typing', content: { user_ids: [] } });
    });

    it('is only for yourself, in a room you are in', async () => {
      const body = { typing: true, timeout: 1_000 };
      expect(await server.call('PUT', typing(ROOM, BOB), { token: alice, body })).toMatchObject({
        status: 403,
        body: { errcode: 'M_FORBIDDEN' },
      });
      expect(
        await server.call('PUT', typing(CAROLS_ROOM, ALICE), { token: alice, body }),
      ).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
      expect(
        await server.call('PUT', typing('!unknown:alpha.test', ALICE), { token: alice, body }),
      ).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
      expect(await server.call('PUT', typing(ROOM, ALICE), { body })).toMatchObject({
        status: 401,
        body: { errcode: 'M_MISSING_TOKEN' },
      });
    });

    it('checks the body and the path', async () => {
      const put = (body: unknown, path = typing(ROOM, ALICE)) =>
        server.call('PUT', path, { token: alice, body });
      expect(await put({ typing: true })).toMatchObject({
        status: 400,
        body: { errcode: 'M_MISSING_PARAM' },
      });
      expect(await put({ timeout: 1_000 })).toMatchObject({
        status: 400,
        body: { errcode: 'M_MISSING_PARAM' },
      });
      expect(await put({ typing: 'yes', timeout: 1_000 })).toMatchObject({
        status: 400,
        body: { errcode: 'M_BAD_JSON' },
      });
      expect(await put({ typing: true, timeout: -1 })).toMatchObject({
        status: 400,
        body: { errcode: 'M_BAD_JSON' },
      });
      expect(await put({ typing: true, timeout: 1_000 }, typing('room', ALICE))).toMatchObject({
        status: 400,
        body: { errcode: 'M_INVALID_PARAM' },
      });
      expect(
        await server.call('PUT', typing(ROOM, ALICE), { token: alice, rawBody: '{' }),
      ).toMatchObject({ status: 400, body: { errcode: 'M_NOT_JSON' } });
    });
  });

  describe('POST /rooms/{roomId}/receipt/{receiptType}/{eventId}', () => {
    const receipt = (roomId: string, type: string, eventId: string) =>
      `${V3}/rooms/${enc(roomId)}/receipt/${enc(type)}/${enc(eventId)}`;

    it('stores public and private receipts, threaded or not', async () => {
      const event = await rooms.addEvent(ROOM, BOB);
      const since = await services().streamPositions.currentToken();
      const bobWaits = services().notifier.waitForChange(BOB, [ROOM], since, 10_000);
      expect(
        await server.call('POST', receipt(ROOM, 'm.read', event), { token: alice, body: {} }),
      ).toEqual({ status: 200, body: {} });
      expect(await bobWaits).toBe('changed');

      // A private receipt wakes only its owner.
      const next = await services().streamPositions.currentToken();
      const bobAgain = services().notifier.waitForChange(BOB, [ROOM], next, 200);
      const aliceWaits = services().notifier.waitForChange(ALICE, [ROOM], next, 10_000);
      const response = await server.call('POST', receipt(ROOM, 'm.read.private', event), {
        token: alice,
        body: { thread_id: 'main' },
      });
      expect(response).toEqual({ status: 200, body: {} });
      expect(await aliceWaits).toBe('changed');
      expect(await bobAgain).toBe('timeout');

      const now = await services().streamPositions.currentToken();
      const forBob = await services().receipts.changesBetween(
        BOB,
        [ROOM],
        since.receipts,
        now.receipts,
      );
      expect(forBob.get(ROOM)?.content).toEqual({
        [event]: { 'm.read': { [ALICE]: { ts: expect.any(Number) } } },
      });
      const forAlice = await services().receipts.changesBetween(
        ALICE,
        [ROOM],
        since.receipts,
        now.receipts,
      );
      expect(forAlice.get(ROOM)?.content).toEqual({
        [event]: {
          'm.read': { [ALICE]: { ts: expect.any(Number) } },
          'm.read.private': { [ALICE]: { ts: expect.any(Number), thread_id: 'main' } },
        },
      });
    });

    it('sets the fully read marker with m.fully_read', async () => {
      const event = await rooms.addEvent(ROOM, BOB);
      expect(
        await server.call('POST', receipt(ROOM, 'm.fully_read', event), { token: bob, body: {} }),
      ).toEqual({ status: 200, body: {} });
      expect(
        await server.call(
          'GET',
          `${V3}/user/${enc(BOB)}/rooms/${enc(ROOM)}/account_data/m.fully_read`,
          { token: bob },
        ),
      ).toEqual({ status: 200, body: { event_id: event } });
    });

    it('refuses what the spec refuses', async () => {
      const event = await rooms.addEvent(ROOM, BOB);
      const post = (path: string, body: unknown = {}, token = alice) =>
        server.call('POST', path, { token, body });
      const error = (status: number, errcode: string) => ({ status, body: { errcode } });
      expect(await post(receipt(ROOM, 'm.read', event), {}, carol)).toMatchObject(
        error(403, 'M_FORBIDDEN'),
      );
      expect(await post(receipt(ROOM, 'm.read', '$unknown:alpha.test'))).toMatchObject(
        error(404, 'M_NOT_FOUND'),
      );
      const elsewhere = await rooms.addEvent(CAROLS_ROOM, CAROL);
      expect(await post(receipt(ROOM, 'm.read', elsewhere))).toMatchObject(
        error(404, 'M_NOT_FOUND'),
      );
      expect(await post(receipt(ROOM, 'm.seen', event))).toMatchObject(
        error(400, 'M_INVALID_PARAM'),
      );
      expect(await post(receipt(ROOM, 'm.read', 'event'))).toMatchObject(
        error(400, 'M_INVALID_PARAM'),
      );
      for (const threadId of [1, '', 'thread']) {
        expect(await post(receipt(ROOM, 'm.read', event), { thread_id: threadId })).toMatchObject(
          error(400, 'M_INVALID_PARAM'),
        );
      }
      expect(await post(receipt(ROOM, 'm.fully_read', event), { thread_id: 'main' })).toMatchObject(
        error(400, 'M_INVALID_PARAM'),
      );
      expect(await post(receipt(ROOM, 'm.read', event), [])).toMatchObject(
        error(400, 'M_BAD_JSON'),
      );
    });
  });

  describe('POST /rooms/{roomId}/read_markers', () => {
    const markers = (roomId: string) => `${V3}/rooms/${enc(roomId)}/read_markers`;

    it('sets the fully read marker and both receipts', async () => {
      const event = await rooms.addEvent(ROOM, ALICE);
      const since = await services().streamPositions.currentToken();
      const response = await server.call('POST', markers(ROOM), {
        token: bob,
        body: { 'm.fully_read': event, 'm.read': event, 'm.read.private': event },
      });
      expect(response).toEqual({ status: 200, body: {} });
      const now = await services().streamPositions.currentToken();
      expect(now.account_data).toBe(since.account_data + 1);
      expect(now.receipts).toBe(since.receipts + 2);
      expect(
        (
          await server.call(
            'GET',
            `${V3}/user/${enc(BOB)}/rooms/${enc(ROOM)}/account_data/m.fully_read`,
            { token: bob },
          )
        ).body,
      ).toEqual({ event_id: event });
      // An empty body changes nothing.
      expect(await server.call('POST', markers(ROOM), { token: bob, body: {} })).toEqual({
        status: 200,
        body: {},
      });
    });

    it('refuses unknown events, other rooms and bad bodies, writing nothing', async () => {
      const event = await rooms.addEvent(ROOM, ALICE);
      const before = await services().streamPositions.currentToken();
      expect(
        await server.call('POST', markers(ROOM), {
          token: bob,
          body: { 'm.fully_read': event, 'm.read': '$nope:alpha.test' },
        }),
      ).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
      expect(
        await server.call('POST', markers(ROOM), { token: carol, body: { 'm.read': event } }),
      ).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
      expect(
        await server.call('POST', markers(ROOM), { token: bob, body: { 'm.read': 5 } }),
      ).toMatchObject({ status: 400, body: { errcode: 'M_BAD_JSON' } });
      expect(await services().streamPositions.currentToken()).toEqual(before);
      // Clients cannot write m.fully_read as account data themselves.
      expect(
        await server.call(
          'PUT',
          `${V3}/user/${enc(BOB)}/rooms/${enc(ROOM)}/account_data/m.fully_read`,
          { token: bob, body: { event_id: event } },
        ),
      ).toMatchObject({ status: 405, body: { errcode: 'M_BAD_JSON' } });
    });
  });

  describe('/presence/{userId}/status', () => {
    const status = (userId: string) => `${V3}/presence/${enc(userId)}/status`;

    it('sets your own presence and shows it to users who share a room', async () => {
      const since = await services().streamPositions.currentToken();
      const bobWaits = services().notifier.waitForChange(BOB, [], since, 10_000);
      expect(
        await server.call('PUT', status(ALICE), {
          token: alice,
          body: { presence: 'online', status_msg: 'Around' },
        }),
      ).toEqual({ status: 200, body: {} });
      expect(await bobWaits).toBe('changed');
      server.clock.advance(2_000);
      expect(await server.call('GET', status(ALICE), { token: bob })).toEqual({
        status: 200,
        body: {
          presence: 'online',
          status_msg: 'Around',
          last_active_ago: 2_000,
          currently_active: true,
        },
      });
      expect(await server.call('GET', status(ALICE), { token: alice })).toMatchObject({
        status: 200,
      });
      const now = await services().streamPositions.currentToken();
      const events = await services().presence.changesBetween(BOB, since.presence, now.presence);
      expect(events).toEqual([
        {
          type: 'm.presence',
          sender: ALICE,
          content: {
            presence: 'online',
            status_msg: 'Around',
            last_active_ago: 2_000,
            currently_active: true,
            displayname: 'alice',
          },
        },
      ]);
      // A user who has never set presence is offline.
      expect(await server.call('GET', status(BOB), { token: alice })).toEqual({
        status: 200,
        body: { presence: 'offline' },
      });
    });

    it('refuses what the spec refuses', async () => {
      const error = (status: number, errcode: string) => ({ status, body: { errcode } });
      expect(
        await server.call('PUT', status(BOB), { token: alice, body: { presence: 'online' } }),
      ).toMatchObject(error(403, 'M_FORBIDDEN'));
      expect(await server.call('GET', status(ALICE), { token: carol })).toMatchObject(
        error(403, 'M_FORBIDDEN'),
      );
      expect(
        await server.call('GET', status('@nobody:alpha.test'), { token: alice }),
      ).toMatchObject(error(404, 'M_NOT_FOUND'));
      expect(await server.call('GET', status('@alice:beta.test'), { token: alice })).toMatchObject(
        error(404, 'M_NOT_FOUND'),
      );
      expect(
        await server.call('PUT', status(ALICE), { token: alice, body: { presence: 'busy' } }),
      ).toMatchObject(error(400, 'M_BAD_JSON'));
      expect(
        await server.call('PUT', status(ALICE), { token: alice, body: { status_msg: 'x' } }),
      ).toMatchObject(error(400, 'M_MISSING_PARAM'));
      expect(
        await server.call('PUT', status(ALICE), {
          token: alice,
          body: { presence: 'online', status_msg: 5 },
        }),
      ).toMatchObject(error(400, 'M_BAD_JSON'));
      expect(await server.call('GET', status('alice'), { token: alice })).toMatchObject(
        error(400, 'M_INVALID_PARAM'),
      );
      expect(await server.call('GET', status(ALICE))).toMatchObject(error(401, 'M_MISSING_TOKEN'));
    });
  });

  describe('the tenant', () => {
    it('keeps typing positions comparable across a restart, and ends long-polls when it stops', async () => {
      await server.call('PUT', `${V3}/rooms/${enc(ROOM)}/typing/${enc(ALICE)}`, {
        token: alice,
        body: { typing: true, timeout: 30_000 },
      });
      const before = await services().streamPositions.currentToken();
      const waiting = services().notifier.waitForChange(BOB, [ROOM], before, 60_000);
      await server.restart();
      expect(await waiting).toBe('stopped');
      // The new instance lost the lists: a token of the old one gets every room's, empty ones too.
      expect(services().typing.changesSince([ROOM], before.typing)).toEqual(
        new Map([[ROOM, { type: 'm.typing', content: { user_ids: [] } }]]),
      );
      const after = await services().streamPositions.currentToken();
      expect(after.receipts).toBe(before.receipts);
      expect(after.presence).toBe(before.presence);
    });
  });
});
