import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccountServer, Json } from '../helpers/account-server.js';
import { startFederationPair } from '../helpers/federation-pair.js';
import { createRoomUsers, enc, summarize, type RoomUser } from '../helpers/room-users.js';

/**
 * Backfill between two real tenants over HTTP: beta's user joins a room of alpha that has
 * history, then paginates `/messages` backwards past its join; beta fetches the older events
 * from alpha (`/backfill`), checks them, and serves them in order, as the history visibility
 * allows, without them counting as new in `/sync` nor changing the room's current state.
 */
describe('federation backfill', () => {
  let alpha: AccountServer;
  let beta: AccountServer;
  let stop: () => Promise<void>;
  let alice: RoomUser;
  let bob: RoomUser;

  beforeAll(async () => {
    ({ alpha, beta, stop } = await startFederationPair());
    [alice] = await createRoomUsers(alpha, ['alice']);
    [bob] = await createRoomUsers(beta, ['bob']);
  });
  afterAll(async () => stop?.());

  /** Pages of `/messages` backwards until the end; every event, oldest first, and the pages. */
  async function paginateBack(user: RoomUser, roomId: string, limit: number) {
    const events: Json[] = [];
    let from: string | undefined;
    let pages = 0;
    for (;;) {
      const page = await user.messages(
        roomId,
        `dir=b&limit=${limit}${from === undefined ? '' : `&from=${enc(from)}`}`,
      );
      pages += 1;
      events.push(...(page.chunk as Json[]));
      if (page.end === undefined) break;
      expect(pages, 'pagination ends').toBeLessThan(100);
      from = page.end;
    }
    return { events: events.reverse(), pages };
  }

  async function stateOf(user: RoomUser, roomId: string): Promise<Record<string, string>> {
    const state = (await user.ok('GET', `/rooms/${enc(roomId)}/state`)) as Json[];
    return Object.fromEntries(
      state.map((event) => [`${event.type}|${event.state_key}`, event.event_id as string]),
    );
  }

  it('fetches the history before the join from alpha and serves it in order', async () => {
    const roomId = await alice.createRoom({ preset: 'public_chat', name: 'History' });
    const sent: string[] = [];
    for (let index = 1; index <= 30; index += 1) {
      sent.push(await alice.send(roomId, `message ${index}`));
    }
    await bob.ok('POST', `/join/${enc(roomId)}?via=alpha.test`, {});
    const since = (await bob.ok('GET', '/sync?timeout=0')).next_batch as string;
    const stateBefore = await stateOf(bob, roomId);

    // Small pages: several rounds of backfill.
    const { events, pages } = await paginateBack(bob, roomId, 7);
    expect(pages).toBeGreaterThan(5);
    const alphaView = await paginateBack(alice, roomId, 100);
    expect(summarize(events)).toEqual(summarize(alphaView.events));
    expect(events.map((event) => event.event_id)).toEqual(
      alphaView.events.map((event) => event.event_id),
    );
    expect(summarize(events)[0]).toBe('m.room.create');
    const bodies = events.filter((event) => event.type === 'm.room.message');
    expect(bodies.map((event) => event.event_id)).toEqual(sent);

    // Asking again reads what is stored: the same events, nothing fetched twice.
    expect((await paginateBack(bob, roomId, 100)).events.map((e) => e.event_id)).toEqual(
      events.map((event) => event.event_id),
    );
    // History is not news: an incremental sync has nothing of it; the state is unchanged.
    const sync = await bob.ok('GET', `/sync?timeout=0&since=${enc(since)}`);
    const timeline = (sync.rooms?.join?.[roomId]?.timeline?.events ?? []) as Json[];
    expect(timeline.filter((event) => event.type === 'm.room.message')).toEqual([]);
    expect(await stateOf(bob, roomId)).toEqual(stateBefore);

    // The room goes on: new events come after the join, history stays before it.
    await alice.send(roomId, 'after the backfill');
    await expect
      .poll(async () => summarize((await bob.messages(roomId, 'dir=b&limit=1')).chunk))
      .toEqual(['after the backfill']);
    const again = await paginateBack(bob, roomId, 100);
    expect(summarize(again.events)).toEqual([...summarize(events), 'after the backfill']);
  });

  it('gets none of the history that `joined` visibility hides', async () => {
    const roomId = await alice.createRoom({
      preset: 'public_chat',
      initial_state: [
        {
          type: 'm.room.history_visibility',
          state_key: '',
          content: { history_visibility: 'joined' },
        },
      ],
    });
    const secrets: string[] = [];
    for (let index = 1; index <= 5; index += 1) {
      secrets.push(await alice.send(roomId, `secret ${index}`));
    }
    await bob.ok('POST', `/join/${enc(roomId)}?via=alpha.test`, {});
    await alice.send(roomId, 'bob is here');
    await expect
      .poll(async () => summarize((await bob.messages(roomId, 'dir=b&limit=1')).chunk))
      .toEqual(['bob is here']);

    const { events } = await paginateBack(bob, roomId, 5);
    const summary = summarize(events);
    expect(summary).not.toContain('secret 1');
    expect(summary).not.toContain('secret 5');
    expect(summary.slice(-2)).toEqual([`m.room.member ${bob.userId}`, 'bob is here']);
    // Alpha gives beta (which had no user joined then) none of it; nothing is in beta's timeline.
    const statuses = await beta.context.services.roomGraph.eventStatuses(secrets);
    expect([...statuses.values()].filter((status) => !status.outlier)).toEqual([]);
  });
});
