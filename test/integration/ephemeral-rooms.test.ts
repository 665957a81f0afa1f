import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountServer } from '../helpers/account-server.js';

const V3 = '/_matrix/client/v3';
const ALICE = '@alice:alpha.test';
const BOB = '@bob:alpha.test';
const enc = encodeURIComponent;

/** The ephemeral streams and the notifier with rooms made through the rooms API. */
describe('ephemeral streams in real rooms', () => {
  let server: AccountServer;
  let alice: string;
  let bob: string;
  let roomId: string;
  beforeAll(async () => {
    server = await AccountServer.start();
    alice = (await server.createUser('alice', 'alice-pw')).accessToken;
    bob = (await server.createUser('bob', 'bob-pw')).accessToken;
    const created = await server.call('POST', `${V3}/createRoom`, {
      token: alice,
      body: { preset: 'public_chat' },
    });
    expect(created.status).toBe(200);
    roomId = created.body.room_id;
  });
  afterAll(async () => server?.stop());

  const services = () => server.context.services;

  it('wakes a user invited or joining a room they are not in yet, and members on new events', async () => {
    const since = await services().streamPositions.currentToken();
    const bobWaits = services().notifier.waitForChange(BOB, [], since, 10_000);
    const joined = await server.call('POST', `${V3}/join/${enc(roomId)}`, { token: bob, body: {} });
    expect(joined.status).toBe(200);
    expect(await bobWaits).toBe('changed');

    const next = await services().streamPositions.currentToken();
    expect(next.events).toBeGreaterThan(since.events);
    const aliceWaits = services().notifier.waitForChange(ALICE, [roomId], next, 10_000);
    const sent = await server.call('PUT', `${V3}/rooms/${enc(roomId)}/send/m.room.message/txn1`, {
      token: bob,
      body: { msgtype: 'm.text', body: 'hello' },
    });
    expect(sent.status).toBe(200);
    expect(await aliceWaits).toBe('changed');

    // A receipt and the read markers on that event.
    const eventId = sent.body.event_id as string;
    expect(
      await server.call('POST', `${V3}/rooms/${enc(roomId)}/receipt/m.read/${enc(eventId)}`, {
        token: alice,
        body: {},
      }),
    ).toEqual({ status: 200, body: {} });
    expect(
      await server.call('POST', `${V3}/rooms/${enc(roomId)}/read_markers`, {
        token: alice,
        body: { 'm.fully_read': eventId },
      }),
    ).toEqual({ status: 200, body: {} });
    const now = await services().streamPositions.currentToken();
    const receipts = await services().receipts.changesBetween(
      BOB,
      [roomId],
      next.receipts,
      now.receipts,
    );
    expect(receipts.get(roomId)?.content).toEqual({
      [eventId]: { 'm.read': { [ALICE]: { ts: expect.any(Number) } } },
    });

    // Presence reaches the users who share the room.
    const presenceSince = await services().streamPositions.currentToken();
    const bobWaitsForPresence = services().notifier.waitForChange(BOB, [], presenceSince, 10_000);
    await server.call('PUT', `${V3}/presence/${enc(ALICE)}/status`, {
      token: alice,
      body: { presence: 'online' },
    });
    expect(await bobWaitsForPresence).toBe('changed');
    expect(
      (await server.call('GET', `${V3}/presence/${enc(ALICE)}/status`, { token: bob })).status,
    ).toBe(200);
  });

  it('ends the typing of a user who leaves the room', async () => {
    const typing = `${V3}/rooms/${enc(roomId)}/typing/${enc(BOB)}`;
    expect(
      await server.call('PUT', typing, { token: bob, body: { typing: true, timeout: 20_000 } }),
    ).toEqual({ status: 200, body: {} });
    expect(services().typing.typingUsers(roomId)).toEqual([BOB]);
    const left = await server.call('POST', `${V3}/rooms/${enc(roomId)}/leave`, {
      token: bob,
      body: {},
    });
    expect(left.status).toBe(200);
    expect(services().typing.typingUsers(roomId)).toEqual([]);
    expect(
      await server.call('PUT', typing, { token: bob, body: { typing: true, timeout: 20_000 } }),
    ).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
    expect(
      (await server.call('GET', `${V3}/presence/${enc(ALICE)}/status`, { token: bob })).status,
    ).toBe(403);
  });
});
