import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccountServer, Json } from '../helpers/account-server.js';
import { startFederationPair } from '../helpers/federation-pair.js';
import { createRoomUsers, enc, summarize, type RoomUser } from '../helpers/room-users.js';

/**
 * Gap filling between two real tenants over HTTP: beta misses some of alpha's events (alpha
 * cannot reach beta for a while, and the queued rows for beta are lost), then receives a later
 * event whose prev events it never saw. Beta fills the gap with `/get_missing_events` from alpha
 * (for a short gap), or takes the state at the missing prev event from `/state_ids` (for a gap
 * longer than one `/get_missing_events` asks for), and ends with the same state as alpha.
 */
describe('federation gap filling', () => {
  let alpha: AccountServer;
  let beta: AccountServer;
  let stop: () => Promise<void>;
  let alice: RoomUser;
  let bob: RoomUser;
  let betaAddress: string;

  beforeAll(async () => {
    ({ alpha, beta, stop } = await startFederationPair());
    [alice] = await createRoomUsers(alpha, ['alice']);
    [bob] = await createRoomUsers(beta, ['bob']);
    betaAddress = alpha.config.federation_plain_http['beta.test'] as string;
  });
  afterAll(async () => stop?.());

  /** Alpha restarted with beta unreachable (nothing listens on port 1). */
  async function cutBetaOff(): Promise<void> {
    alpha.config = { ...alpha.config, federation_plain_http: { 'beta.test': '127.0.0.1:1' } };
    await alpha.restart();
  }

  /**
   * Alpha restarted with beta reachable again, and what it had queued for beta (and the backoff)
   * lost, so the events sent meanwhile never reach beta by `/send`.
   */
  async function reconnectLosingQueue(): Promise<void> {
    await alpha.context.services.federation.outbound.stop();
    await alpha.context.db.transact(async (trx) => {
      await trx.deleteFrom('federation_outbound').where('destination', '=', 'beta.test').execute();
      await trx
        .deleteFrom('federation_destinations')
        .where('destination', '=', 'beta.test')
        .execute();
    });
    alpha.config = { ...alpha.config, federation_plain_http: { 'beta.test': betaAddress } };
    await alpha.restart();
  }

  async function stateOf(user: RoomUser, roomId: string): Promise<Record<string, string>> {
    const state = (await user.ok('GET', `/rooms/${enc(roomId)}/state`)) as Json[];
    return Object.fromEntries(
      state.map((event) => [`${event.type}|${event.state_key}`, event.event_id as string]),
    );
  }

  async function timeline(user: RoomUser, roomId: string): Promise<string[]> {
    const page = await user.messages(roomId, 'dir=b&limit=100');
    return summarize((page.chunk as Json[]).slice().reverse());
  }

  async function joinedRoom(): Promise<string> {
    const roomId = await alice.createRoom({ preset: 'public_chat' });
    await bob.ok('POST', `/join/${enc(roomId)}?via=alpha.test`, {});
    await alice.send(roomId, 'before the gap');
    await expect.poll(() => timeline(bob, roomId)).toContain('before the gap');
    return roomId;
  }

  it('fills a short gap with /get_missing_events: same state and messages', async () => {
    const roomId = await joinedRoom();
    await cutBetaOff();
    await alice.send(roomId, 'missed 1');
    await alice.setState(roomId, 'm.room.topic', { topic: 'set while beta was away' });
    await alice.send(roomId, 'missed 2');
    await alice.send(roomId, 'missed 3');
    await reconnectLosingQueue();
    expect(await timeline(bob, roomId)).not.toContain('missed 1');

    await alice.send(roomId, 'after the gap');
    await expect.poll(() => timeline(bob, roomId)).toContain('after the gap');

    const alphaTimeline = await timeline(alice, roomId);
    expect(alphaTimeline.slice(-6)).toEqual([
      'before the gap',
      'missed 1',
      'm.room.topic',
      'missed 2',
      'missed 3',
      'after the gap',
    ]);
    // From bob's join on (what came before is history beta has not fetched), the same events.
    const fromJoin = (events: string[]) =>
      events.slice(events.indexOf(`m.room.member ${bob.userId}`));
    expect(fromJoin(await timeline(bob, roomId))).toEqual(fromJoin(alphaTimeline));
    expect(await stateOf(bob, roomId)).toEqual(await stateOf(alice, roomId));
    const topic = await bob.ok('GET', `/rooms/${enc(roomId)}/state/m.room.topic/`);
    expect(topic.topic).toBe('set while beta was away');

    // Beta takes part again: its message reaches alpha, after every event of the gap.
    await bob.send(roomId, 'bob is back');
    await expect.poll(() => timeline(alice, roomId)).toContain('bob is back');
    expect(await stateOf(bob, roomId)).toEqual(await stateOf(alice, roomId));
  });

  it('takes the state at a prev event from /state_ids past a long gap', async () => {
    const roomId = await joinedRoom();
    await cutBetaOff();
    await alice.setState(roomId, 'm.room.name', { name: 'Renamed early in the gap' });
    for (let index = 1; index <= 14; index += 1) await alice.send(roomId, `missed ${index}`);
    await alice.setState(roomId, 'm.room.topic', { topic: 'late in the gap' });
    await reconnectLosingQueue();

    await alice.send(roomId, 'after the long gap');
    await expect.poll(() => timeline(bob, roomId)).toContain('after the long gap');
    expect(await stateOf(bob, roomId)).toEqual(await stateOf(alice, roomId));
    const name = await bob.ok('GET', `/rooms/${enc(roomId)}/state/m.room.name/`);
    expect(name.name).toBe('Renamed early in the gap');

    await bob.send(roomId, 'bob after the long gap');
    await expect.poll(() => timeline(alice, roomId)).toContain('bob after the long gap');
    expect(await stateOf(alice, roomId)).toEqual(await stateOf(bob, roomId));
  });
});
