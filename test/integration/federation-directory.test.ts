import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccountServer } from '../helpers/account-server.js';
import { startFederationPair } from '../helpers/federation-pair.js';
import { createRoomUsers, enc, type RoomUser } from '../helpers/room-users.js';

/**
 * Other servers' directories through the client API: an alias of another server resolved by
 * asking it, and another server's published rooms (`/publicRooms?server=`), between two real
 * tenants; unknown aliases and unreachable servers give clear errors.
 */
describe('directories of other servers', () => {
  let alpha: AccountServer;
  let beta: AccountServer;
  let stop: () => Promise<void>;
  let alice: RoomUser;
  let bob: RoomUser;
  let roomId: string;

  beforeAll(async () => {
    ({ alpha, beta, stop } = await startFederationPair());
    [alice] = await createRoomUsers(alpha, ['alice']);
    [bob] = await createRoomUsers(beta, ['bob']);
    roomId = await alice.createRoom({
      preset: 'public_chat',
      visibility: 'public',
      room_alias_name: 'lobby',
      name: 'The lobby',
    });
  });
  afterAll(async () => stop?.());

  it("resolves another server's alias by asking it", async () => {
    const resolved = await bob.ok('GET', `/directory/room/${enc('#lobby:alpha.test')}`);
    expect(resolved.room_id).toBe(roomId);
    expect(resolved.servers).toContain('alpha.test');
    const unknown = await bob.call('GET', `/directory/room/${enc('#nothing:alpha.test')}`);
    expect(unknown).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
  });

  it("lists another server's published rooms, filtered or not", async () => {
    const listed = await bob.ok('GET', '/publicRooms?server=alpha.test');
    expect(listed.chunk.map((room: { room_id: string }) => room.room_id)).toEqual([roomId]);
    expect(listed.chunk[0]).toMatchObject({ name: 'The lobby', num_joined_members: 1 });
    const matching = await bob.ok('POST', '/publicRooms?server=alpha.test', {
      filter: { generic_search_term: 'lobby' },
    });
    expect(matching.chunk).toHaveLength(1);
    const none = await bob.ok('POST', '/publicRooms?server=alpha.test', {
      filter: { generic_search_term: 'no such room' },
    });
    expect(none.chunk).toHaveLength(0);
  });

  it('answers 502 when the other server cannot be reached', async () => {
    const response = await bob.call('GET', '/publicRooms?server=unreachable.invalid');
    expect(response).toMatchObject({ status: 502, body: { errcode: 'M_UNKNOWN' } });
  });
});
