import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountServer, type Json } from '../helpers/account-server.js';

const V3 = '/_matrix/client/v3';
const ALICE = '@alice:alpha.test';
const BOB = '@bob:alpha.test';
const enc = encodeURIComponent;

/** Presence driven by syncs, sent events and timeouts, as another user's `/sync` shows it. */
describe('presence from activity over HTTP', () => {
  let server: AccountServer;
  let alice: string;
  let bob: string;
  let roomId: string;
  let bobSince: string;

  beforeAll(async () => {
    server = await AccountServer.start();
    alice = (await server.createUser('alice', 'alice-pw')).accessToken;
    bob = (await server.createUser('bob', 'bob-pw')).accessToken;
    const created = await server.call('POST', `${V3}/createRoom`, {
      token: alice,
      body: { preset: 'public_chat' },
    });
    roomId = created.body.room_id;
    expect(
      (await server.call('POST', `${V3}/join/${enc(roomId)}`, { token: bob, body: {} })).status,
    ).toBe(200);
    bobSince = (await sync(bob, { set_presence: 'offline' })).next_batch;
  });
  afterAll(async () => server?.stop());

  async function sync(token: string, query: Record<string, string> = {}): Promise<Json> {
    const search = new URLSearchParams(query).toString();
    const response = await server.call('GET', `${V3}/sync${search === '' ? '' : `?${search}`}`, {
      token,
    });
    expect(response.status).toBe(200);
    return response.body;
  }

  /** Alice's presence events in Bob's next sync (Bob syncs as `offline`: his own stays put). */
  async function aliceAsBobSeesHer(query: Record<string, string> = {}): Promise<Json[]> {
    const body = await sync(bob, { since: bobSince, set_presence: 'offline', ...query });
    bobSince = body.next_batch;
    return body.presence.events
      .filter((event: Json) => event.sender === ALICE)
      .map((event: Json) => event.content);
  }

  it('a sync without set_presence makes the user online', async () => {
    await sync(alice);
    expect(await aliceAsBobSeesHer()).toEqual([
      expect.objectContaining({ presence: 'online', currently_active: true }),
    ]);
    // Syncing again changes nothing anyone must hear about.
    const { next_batch: since } = await sync(alice);
    await sync(alice, { since });
    expect(await aliceAsBobSeesHer()).toEqual([]);
  });

  it('set_presence=unavailable makes the user unavailable; a sent event brings her back', async () => {
    await sync(alice, { set_presence: 'unavailable' });
    expect(await aliceAsBobSeesHer()).toEqual([
      expect.objectContaining({ presence: 'unavailable', currently_active: false }),
    ]);
    const sent = await server.call('PUT', `${V3}/rooms/${enc(roomId)}/send/m.room.message/t1`, {
      token: alice,
      body: { msgtype: 'm.text', body: 'back' },
    });
    expect(sent.status).toBe(200);
    expect(await aliceAsBobSeesHer()).toEqual([
      expect.objectContaining({ presence: 'online', currently_active: true, last_active_ago: 0 }),
    ]);
  });

  it('a user who stops syncing goes offline after 30 s, waking the long-polls of others', async () => {
    const services = server.context.services;
    server.clock.advance(29_000);
    await services.presence.sweep();
    expect(await aliceAsBobSeesHer()).toEqual([]);

    const polling = aliceAsBobSeesHer({ timeout: '30000' });
    while (services.notifier.waiting === 0) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    server.clock.advance(1_001);
    await services.presence.sweep();
    expect(await polling).toEqual([expect.objectContaining({ presence: 'offline' })]);
    expect(
      (await server.call('GET', `${V3}/presence/${enc(ALICE)}/status`, { token: bob })).body,
    ).toMatchObject({ presence: 'offline', currently_active: false });
    // Bob synced all along as `offline`: he never became online.
    expect(
      (await server.call('GET', `${V3}/presence/${enc(BOB)}/status`, { token: bob })).body,
    ).toMatchObject({ presence: 'offline' });
  });
});
