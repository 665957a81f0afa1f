import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../test/helpers/manual-clock.js';
import {
  IDLE_TIMER_MS,
  LAST_ACTIVE_GRANULARITY_MS,
  PresenceActivity,
  SYNC_ONLINE_TIMEOUT_MS,
  shouldNotify,
  type PresenceSnapshot,
} from './presence-activity.js';

const ALICE = '@alice:alpha.test';
const BOB = '@bob:alpha.test';
const START = 1_700_000_000_000;

/** A tracker knowing Alice (no stored row yet), and a way to store what it asks to write. */
function setup(capacity?: number) {
  const clock = new ManualClock(START);
  const activity = new PresenceActivity(clock, capacity);
  activity.remember(ALICE, undefined);
  let streamId = 0;
  /** Stores Alice's pending write as the owner would; returns it (undefined: nothing to write). */
  const store = (lastActiveStepMs: number, userId = ALICE) => {
    const pending = activity.pendingWrite(userId, lastActiveStepMs);
    if (pending !== undefined) {
      if (pending.advance) streamId += 1;
      activity.stored(userId, pending.next, streamId);
    }
    return pending;
  };
  /** One complete sync of `durationMs`. */
  const sync = (state: 'online' | 'unavailable' = 'online', durationMs = 0, device = 'PHONE') => {
    activity.syncStarted(ALICE, device, state);
    clock.advance(durationMs);
    activity.syncEnded(ALICE, device);
  };
  return { clock, activity, store, sync };
}

describe('PresenceActivity', () => {
  it('makes a syncing user online, with no write for repeated syncs within the granularity', () => {
    const { clock, activity, store, sync } = setup();
    sync();
    expect(activity.current(ALICE)).toEqual({
      presence: 'online',
      statusMsg: null,
      lastActiveTs: START,
      currentlyActive: true,
    });
    expect(store(Infinity)).toMatchObject({ advance: true, previousStreamId: undefined });

    // A client long-polling for 10 s at a time, for 50 s: nothing to write, not even by the sweep.
    for (let i = 0; i < 5; i += 1) {
      sync('online', 10_000);
      expect(activity.pendingWrite(ALICE, Infinity)).toBeUndefined();
      expect(activity.checkTimeouts()).toEqual({ checked: [ALICE], forgotten: [] });
      expect(activity.pendingWrite(ALICE, LAST_ACTIVE_GRANULARITY_MS)).toBeUndefined();
    }
    // A minute on, the last active time is worth storing, without telling clients.
    clock.advance(10_001);
    sync();
    expect(activity.pendingWrite(ALICE, Infinity)).toBeUndefined();
    expect(store(LAST_ACTIVE_GRANULARITY_MS)).toEqual({
      next: {
        presence: 'online',
        statusMsg: null,
        lastActiveTs: clock.now(),
        currentlyActive: true,
      },
      previousStreamId: 1,
      advance: false,
    });
  });

  it('goes offline 30 s after the last sync ended, never while one is in progress', () => {
    const { clock, activity, store } = setup();
    activity.syncStarted(ALICE, 'PHONE', 'online');
    store(Infinity);
    clock.advance(SYNC_ONLINE_TIMEOUT_MS + 1); // A long-poll: still syncing.
    activity.checkTimeouts();
    expect(activity.current(ALICE)?.presence).toBe('online');
    activity.syncEnded(ALICE, 'PHONE');
    clock.advance(SYNC_ONLINE_TIMEOUT_MS);
    activity.checkTimeouts();
    // Still online, only no longer currently active (a minute since the sync started).
    expect(store(Infinity)).toMatchObject({
      advance: true,
      next: { presence: 'online', currentlyActive: false },
    });

    clock.advance(1);
    activity.checkTimeouts();
    expect(activity.current(ALICE)).toMatchObject({ presence: 'offline', currentlyActive: false });
    expect(store(Infinity)).toMatchObject({ advance: true, next: { presence: 'offline' } });
    // Offline users have no timeouts: the sweep has nobody to look at.
    expect(activity.watchedCount).toBe(0);
    expect(activity.checkTimeouts()).toEqual({ checked: [], forgotten: [] });
  });

  it('stops being currently active after a minute, and becomes unavailable after 5 minutes idle', () => {
    const { clock, activity, store } = setup();
    activity.syncStarted(ALICE, 'PHONE', 'online'); // Never ends: the tab stays open.
    store(Infinity);
    clock.advance(LAST_ACTIVE_GRANULARITY_MS);
    activity.checkTimeouts();
    expect(activity.current(ALICE)).toMatchObject({ presence: 'online', currentlyActive: false });
    // Clients are told: they stop considering her active.
    expect(store(Infinity)).toMatchObject({ advance: true });

    clock.advance(IDLE_TIMER_MS - LAST_ACTIVE_GRANULARITY_MS);
    activity.checkTimeouts();
    expect(activity.current(ALICE)?.presence).toBe('online');
    clock.advance(1);
    activity.checkTimeouts();
    expect(activity.current(ALICE)).toMatchObject({
      presence: 'unavailable',
      lastActiveTs: START,
      currentlyActive: false,
    });
    expect(store(Infinity)).toMatchObject({ advance: true, next: { presence: 'unavailable' } });
  });

  it('counts a sent event as activity: back online, and the idle timer starts again', () => {
    const { clock, activity, store } = setup();
    activity.syncStarted(ALICE, 'PHONE', 'online');
    clock.advance(IDLE_TIMER_MS + 1);
    activity.checkTimeouts();
    store(Infinity);
    expect(activity.current(ALICE)?.presence).toBe('unavailable');

    activity.active(ALICE);
    expect(activity.current(ALICE)).toEqual({
      presence: 'online',
      statusMsg: null,
      lastActiveTs: clock.now(),
      currentlyActive: true,
    });
    expect(store(Infinity)).toMatchObject({ advance: true, next: { presence: 'online' } });
    clock.advance(IDLE_TIMER_MS);
    activity.checkTimeouts();
    expect(activity.current(ALICE)?.presence).toBe('online');
  });

  it('lets an offline user who sends events stay offline, with a moving last active time', () => {
    const { clock, activity, store } = setup();
    activity.active(ALICE);
    expect(activity.current(ALICE)).toMatchObject({ presence: 'offline', lastActiveTs: START });
    expect(store(Infinity)).toMatchObject({ advance: true });
    // Within the granularity: nothing to tell; past it, clients hear of it (Synapse's rule).
    clock.advance(LAST_ACTIVE_GRANULARITY_MS);
    activity.active(ALICE);
    expect(activity.pendingWrite(ALICE, Infinity)).toBeUndefined();
    clock.advance(1);
    activity.active(ALICE);
    expect(store(Infinity)).toMatchObject({ advance: true, next: { presence: 'offline' } });
  });

  describe('presence set by the user (PUT /presence)', () => {
    it('keeps an explicit offline: no timeouts, and syncs with set_presence=offline never happen here', () => {
      const { clock, activity, store, sync } = setup();
      sync();
      store(Infinity);
      activity.setByUser(ALICE, 'PHONE', 'offline', null);
      expect(store(Infinity)).toMatchObject({ advance: true, next: { presence: 'offline' } });
      clock.advance(IDLE_TIMER_MS * 2);
      activity.checkTimeouts();
      expect(activity.current(ALICE)?.presence).toBe('offline');
      expect(activity.pendingWrite(ALICE, LAST_ACTIVE_GRANULARITY_MS)).toBeUndefined();
      // A sync that marks her online again is her client saying so (Synapse does the same).
      sync();
      expect(activity.current(ALICE)?.presence).toBe('online');
    });

    it('keeps the status message through syncs, and the state until the next sync says otherwise', () => {
      const { clock, activity, store, sync } = setup();
      activity.syncStarted(ALICE, 'PHONE', 'online');
      activity.setByUser(ALICE, 'PHONE', 'unavailable', 'In a meeting');
      expect(store(Infinity)).toMatchObject({
        advance: true,
        next: { presence: 'unavailable', statusMsg: 'In a meeting' },
      });
      // The long-poll in progress keeps her from going offline; nothing moves her state.
      clock.advance(IDLE_TIMER_MS * 2);
      activity.checkTimeouts();
      expect(activity.current(ALICE)).toMatchObject({ presence: 'unavailable' });
      activity.syncEnded(ALICE, 'PHONE');
      // Her next sync sets the device's state again; the message stays.
      sync();
      expect(activity.current(ALICE)).toMatchObject({
        presence: 'online',
        statusMsg: 'In a meeting',
      });
      expect(store(Infinity)).toMatchObject({ advance: true });
    });

    it('lets a user who set online without syncing go offline 30 s later', () => {
      const { clock, activity, store } = setup();
      activity.setByUser(ALICE, 'BOT', 'online', null);
      store(Infinity);
      clock.advance(SYNC_ONLINE_TIMEOUT_MS);
      activity.checkTimeouts();
      expect(activity.current(ALICE)?.presence).toBe('online');
      clock.advance(1);
      activity.checkTimeouts();
      expect(activity.current(ALICE)?.presence).toBe('offline');
    });
  });

  it('takes the highest state of the devices, so two clients do not fight', () => {
    const { clock, activity, store, sync } = setup();
    sync('online', 0, 'DESKTOP');
    store(Infinity);
    for (let i = 0; i < 5; i += 1) {
      sync('unavailable', 5_000, 'PHONE');
      sync('online', 5_000, 'DESKTOP');
      expect(activity.pendingWrite(ALICE, Infinity)).toBeUndefined();
    }
    expect(activity.current(ALICE)?.presence).toBe('online');
    // The desktop stops syncing: the phone's state is left.
    clock.advance(SYNC_ONLINE_TIMEOUT_MS - 5_000);
    sync('unavailable', 0, 'PHONE');
    clock.advance(5_001);
    activity.checkTimeouts();
    expect(activity.current(ALICE)?.presence).toBe('unavailable');
  });

  it('gives a user known from a stored row 30 s to sync again', () => {
    const clock = new ManualClock(START);
    const activity = new PresenceActivity(clock);
    const stored = (lastActiveTs: number) => ({
      presence: 'online' as const,
      statusMsg: 'Hi',
      lastActiveTs,
      currentlyActive: true,
      streamId: 7,
    });
    activity.remember(ALICE, stored(START - 20_000));
    activity.remember(BOB, stored(START - 20_000));
    activity.remember(BOB, undefined); // Known already: ignored.
    expect(activity.watchedCount).toBe(2);
    clock.advance(10_000);
    activity.syncStarted(ALICE, 'PHONE', 'online');
    activity.syncEnded(ALICE, 'PHONE');
    // Alice came back: no change clients must hear of (only her last active time moved).
    expect(activity.pendingWrite(ALICE, Infinity)).toBeUndefined();
    clock.advance(SYNC_ONLINE_TIMEOUT_MS - 10_000 + 1);
    activity.checkTimeouts();
    expect(activity.current(ALICE)?.presence).toBe('online');
    expect(activity.current(BOB)).toMatchObject({ presence: 'offline', statusMsg: 'Hi' });
    expect(activity.pendingWrite(BOB, Infinity)).toMatchObject({
      advance: true,
      previousStreamId: 7,
    });
  });

  it('forgets the least recently seen users, and says which ones the sweep lost', () => {
    const { activity, sync } = setup(1);
    sync();
    activity.remember(BOB, undefined);
    expect(activity.has(ALICE)).toBe(false);
    expect(activity.current(ALICE)).toBeUndefined();
    expect(activity.pendingWrite(ALICE, 0)).toBeUndefined();
    expect(activity.checkTimeouts()).toEqual({ checked: [], forgotten: [ALICE] });
    expect(activity.checkTimeouts()).toEqual({ checked: [], forgotten: [] });
  });
});

describe('shouldNotify', () => {
  const online: PresenceSnapshot = {
    presence: 'online',
    statusMsg: null,
    lastActiveTs: START,
    currentlyActive: true,
  };
  const later = START + LAST_ACTIVE_GRANULARITY_MS + 1;

  it("follows Synapse's rules", () => {
    expect(shouldNotify(online, { ...online, lastActiveTs: later })).toBe(false);
    expect(shouldNotify(online, { ...online, statusMsg: 'Lunch' })).toBe(true);
    expect(shouldNotify(online, { ...online, presence: 'unavailable' })).toBe(true);
    expect(shouldNotify(online, { ...online, currentlyActive: false })).toBe(true);
    const inactive = { ...online, currentlyActive: false };
    expect(shouldNotify(inactive, { ...inactive, lastActiveTs: later })).toBe(true);
    const offline = { ...inactive, presence: 'offline' as const };
    expect(shouldNotify(offline, { ...offline, lastActiveTs: START + 1_000 })).toBe(false);
    expect(shouldNotify(offline, { ...offline, lastActiveTs: later })).toBe(true);
  });
});
