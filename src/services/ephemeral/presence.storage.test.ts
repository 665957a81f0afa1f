import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openAccountServices } from '../../../test/helpers/account-services.js';
import { StoredRooms } from '../../../test/helpers/stored-rooms.js';
import { selectPresence, selectPresenceNotOffline } from '../../storage/ephemeral/presence.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import { StoredMembershipLookup } from './membership-lookup.js';
import { LAST_ACTIVE_GRANULARITY_MS, SYNC_ONLINE_TIMEOUT_MS } from './presence-activity.js';
import { Presence, type PresenceChange } from './presence.js';

const ROOM = '!room:alpha.test';

const opened: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  while (opened.length > 0) await opened.pop()?.close();
});

/** The tenant database, counting the reads and transactions that go through it. */
function counting(db: TenantDatabase) {
  const count = { reads: 0, transactions: 0 };
  const counted: TenantDatabase = {
    dialect: db.dialect,
    serverName: db.serverName,
    read: (fn) => {
      count.reads += 1;
      return db.read(fn);
    },
    transact: (fn) => {
      count.transactions += 1;
      return db.transact(fn);
    },
    close: () => db.close(),
  };
  const reset = () => {
    count.reads = 0;
    count.transactions = 0;
  };
  return { counted, count, reset };
}

/** Alice and Bob share ROOM. `presence()` builds a tenant instance's Presence (several: restarts). */
async function setup() {
  const t = await openAccountServices();
  opened.push(t);
  const user = async (localpart: string) =>
    (await t.services.registration.createAccount({ localpart, isAdmin: false, isGuest: false }))
      .userId;
  const [alice, bob] = [await user('alice'), await user('bob')];
  await new StoredRooms(t.db).createRoom(ROOM, [alice, bob]);
  const { counted, count, reset } = counting(t.db);
  const presence = () => {
    const instance = new Presence(
      counted,
      t.clock,
      'alpha.test',
      new StoredMembershipLookup(counted),
      pino({ level: 'silent' }),
    );
    opened.push({ close: () => instance.stop() });
    const changes: PresenceChange[] = [];
    instance.changed.add((change) => void changes.push(change));
    return { instance, changes };
  };
  const row = (userId: string) => t.db.read((db) => selectPresence(db, userId));
  /** One sync of `userId` from PHONE, ended at once. */
  const sync = async (p: Presence, userId: string, setPresence?: 'online' | 'unavailable') =>
    (await p.syncing(userId, 'PHONE', setPresence))();
  return { ...t, alice, bob, presence, count, reset, row, sync };
}

describe('Presence driven by activity', () => {
  it('reads a user once; syncs and sweeps that change nothing touch no database', async () => {
    const { presence, alice, bob, clock, count, reset, row, sync } = await setup();
    const { instance, changes } = presence();
    await instance.sweep(); // The first sweep of an instance takes over stored users.

    await sync(instance, alice);
    expect(changes).toEqual([
      { userId: alice, position: expect.any(Number), audience: expect.arrayContaining([bob]) },
    ]);
    expect(await instance.getPresence(bob, alice)).toEqual({
      presence: 'online',
      last_active_ago: 0,
      currently_active: true,
    });
    const stored = await row(alice);

    // A client that syncs every 10 s, for 50 s: memory only.
    reset();
    for (let i = 0; i < 5; i += 1) {
      clock.advance(10_000);
      const ended = await instance.syncing(alice, 'PHONE');
      await instance.sweep();
      ended();
      await instance.sweep();
    }
    expect(count).toEqual({ reads: 0, transactions: 0 });
    expect(changes).toHaveLength(1);

    // Past the granularity, the sweep stores the last active time, without telling anyone.
    clock.advance(LAST_ACTIVE_GRANULARITY_MS - 50_000 + 1);
    await sync(instance, alice);
    expect(count).toEqual({ reads: 0, transactions: 0 });
    await instance.sweep();
    expect(count).toEqual({ reads: 0, transactions: 1 });
    expect(await row(alice)).toEqual({
      ...stored,
      lastActiveTs: clock.now(),
      streamId: stored?.streamId,
    });
    expect(changes).toHaveLength(1);

    // She stops syncing: offline once 30 s have passed, announced on the stream.
    clock.advance(SYNC_ONLINE_TIMEOUT_MS);
    await instance.sweep();
    expect(changes).toHaveLength(1);
    clock.advance(1);
    await instance.sweep();
    expect(changes).toHaveLength(2);
    expect(await row(alice)).toMatchObject({ presence: 'offline', currentlyActive: false });
    expect((changes[1]?.position ?? 0) > (changes[0]?.position ?? 0)).toBe(true);

    // Nobody left to look at: sweeps touch no database.
    reset();
    await instance.sweep();
    await instance.sweep();
    expect(count).toEqual({ reads: 0, transactions: 0 });
  });

  it('keeps what it knows right when the user sets their presence', async () => {
    const { presence, alice, bob, clock, row, sync } = await setup();
    const { instance, changes } = presence();
    await sync(instance, alice);
    await instance.setPresence(alice, 'unavailable', 'Busy', 'PHONE');
    expect(changes).toHaveLength(2);
    clock.advance(1_000);
    expect(await instance.getPresence(bob, alice)).toEqual({
      presence: 'unavailable',
      status_msg: 'Busy',
      last_active_ago: 1_000,
      currently_active: false,
    });
    // A sync with `set_presence=offline` changes nothing; one with `online` her state, not her message.
    await (
      await instance.syncing(alice, 'PHONE', 'offline')
    )();
    expect(changes).toHaveLength(2);
    await sync(instance, alice);
    expect(changes).toHaveLength(3);
    expect(await row(alice)).toMatchObject({ presence: 'online', statusMsg: 'Busy' });
    // The same state again: only the last active time moves, stored but not announced.
    clock.advance(1_000);
    await instance.setPresence(alice, 'online', 'Busy', 'PHONE');
    expect(changes).toHaveLength(3);
    expect(await row(alice)).toMatchObject({ lastActiveTs: clock.now() });
    // Explicitly offline: no timeouts.
    await instance.setPresence(alice, 'offline', undefined, 'PHONE');
    clock.advance(10 * 60_000);
    await instance.sweep();
    expect(changes).toHaveLength(4);
    expect(await row(alice)).toMatchObject({ presence: 'offline', statusMsg: null });
  });

  it('counts activity: an unavailable user who sends an event is online again', async () => {
    const { presence, alice, row, sync } = await setup();
    const { instance, changes } = presence();
    await sync(instance, alice, 'unavailable');
    expect(await row(alice)).toMatchObject({ presence: 'unavailable' });
    await instance.activeNow(alice);
    expect(await row(alice)).toMatchObject({ presence: 'online', currentlyActive: true });
    expect(changes).toHaveLength(2);
    // Remote users' activity is not this server's to track.
    await instance.activeNow('@carol:beta.test');
    expect(await row('@carol:beta.test')).toBeUndefined();
  });

  it('times out the users an earlier instance left online', async () => {
    const { presence, alice, bob, clock, count, reset, row, sync, db } = await setup();
    const first = presence().instance;
    await sync(first, alice);
    await sync(first, bob, 'unavailable');
    await first.stop();
    expect(
      (await db.read((d) => selectPresenceNotOffline(d, 10))).map((r) => r.userId).sort(),
    ).toEqual([alice, bob].sort());

    const { instance, changes } = presence();
    clock.advance(5_000);
    reset();
    await instance.sweep();
    expect(count).toEqual({ reads: 1, transactions: 0 });
    // Bob comes back within 30 s; Alice does not.
    clock.advance(SYNC_ONLINE_TIMEOUT_MS - 5_000);
    await sync(instance, bob, 'unavailable');
    expect(changes).toEqual([]);
    clock.advance(10_000);
    await instance.sweep();
    expect(changes.map((change) => change.userId)).toEqual([alice]);
    expect(await row(alice)).toMatchObject({ presence: 'offline' });
    expect(await row(bob)).toMatchObject({ presence: 'unavailable' });
  });

  it('sweeps on its own timer until stopped', async () => {
    const { presence, alice, clock, sync } = await setup();
    const { instance, changes } = presence();
    await sync(instance, alice);
    instance.startSweeping(10);
    clock.advance(SYNC_ONLINE_TIMEOUT_MS + 1);
    await vi.waitFor(() => expect(changes).toHaveLength(2));
    await instance.stop();
    await sync(instance, alice);
    clock.advance(SYNC_ONLINE_TIMEOUT_MS + 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(changes).toHaveLength(3); // Online again, and no sweep to time her out.
  });
});
