import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { INITIAL_SYNC_TOKEN, type SyncToken } from '../sync/sync-token.js';
import { Notifier } from './notifier.js';

const ALICE = '@alice:alpha.test';
const BOB = '@bob:alpha.test';
const ROOM = '!room:alpha.test';
const OTHER_ROOM = '!other:alpha.test';

function token(positions: Partial<SyncToken> = {}): SyncToken {
  return { ...INITIAL_SYNC_TOKEN, ...positions };
}

/** Whether the promise has settled after pending microtasks ran. */
async function settled<T>(promise: Promise<T>): Promise<{ done: boolean; value?: T }> {
  let result: { done: boolean; value?: T } = { done: false };
  void promise.then((value) => {
    result = { done: true, value };
  });
  await Promise.resolve();
  await Promise.resolve();
  return result;
}

describe('Notifier', () => {
  let notifier: Notifier;
  beforeEach(() => {
    vi.useFakeTimers();
    notifier = new Notifier();
  });
  afterEach(() => {
    notifier.stop();
    vi.useRealTimers();
  });

  it('wakes a waiter on a change in one of its rooms', async () => {
    const wait = notifier.waitForChange(ALICE, [ROOM], token({ events: 5 }), 30_000);
    expect(notifier.waiting).toBe(1);
    notifier.notify({ stream: 'events', position: 6, roomIds: [ROOM] });
    expect(await wait).toBe('changed');
    expect(notifier.waiting).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('wakes a waiter on a change naming its user, whatever the rooms', async () => {
    const wait = notifier.waitForChange(ALICE, [], token(), 30_000);
    notifier.notify({ stream: 'account_data', position: 1, userIds: [ALICE] });
    expect(await wait).toBe('changed');
  });

  it('ignores changes in other rooms, for other users, or not past since', async () => {
    const wait = notifier.waitForChange(ALICE, [ROOM], token({ events: 5, receipts: 3 }), 30_000);
    notifier.notify({ stream: 'events', position: 6, roomIds: [OTHER_ROOM] });
    notifier.notify({ stream: 'account_data', position: 1, userIds: [BOB] });
    notifier.notify({ stream: 'receipts', position: 3, roomIds: [ROOM] });
    notifier.notify({ stream: 'events', position: 5, roomIds: [ROOM] });
    expect((await settled(wait)).done).toBe(false);
    notifier.notify({ stream: 'receipts', position: 4, roomIds: [ROOM] });
    expect(await wait).toBe('changed');
  });

  it('wakes only the waiters a change concerns', async () => {
    const alice = notifier.waitForChange(ALICE, [ROOM], token(), 30_000);
    const bob = notifier.waitForChange(BOB, [OTHER_ROOM], token(), 30_000);
    notifier.notify({ stream: 'typing', position: 1, roomIds: [ROOM] });
    expect(await alice).toBe('changed');
    expect((await settled(bob)).done).toBe(false);
    expect(notifier.waiting).toBe(1);
  });

  it('times out, and clears its timer', async () => {
    const wait = notifier.waitForChange(ALICE, [ROOM], token(), 1_000);
    vi.advanceTimersByTime(999);
    expect((await settled(wait)).done).toBe(false);
    vi.advanceTimersByTime(1);
    expect(await wait).toBe('timeout');
    expect(notifier.waiting).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('returns at once for a zero timeout', async () => {
    expect(await notifier.waitForChange(ALICE, [ROOM], token(), 0)).toBe('timeout');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('ends when the signal aborts, and removes its listener and timer', async () => {
    const controller = new AbortController();
    const wait = notifier.waitForChange(ALICE, [ROOM], token(), 30_000, controller.signal);
    controller.abort();
    expect(await wait).toBe('aborted');
    expect(notifier.waiting).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    expect(await notifier.waitForChange(ALICE, [ROOM], token(), 30_000, controller.signal)).toBe(
      'aborted',
    );
  });

  it('removes its abort listener when it ends otherwise', async () => {
    const controller = new AbortController();
    const remove = vi.spyOn(controller.signal, 'removeEventListener');
    const wait = notifier.waitForChange(ALICE, [ROOM], token(), 30_000, controller.signal);
    notifier.notify({ stream: 'events', position: 1, roomIds: [ROOM] });
    expect(await wait).toBe('changed');
    expect(remove).toHaveBeenCalledWith('abort', expect.any(Function));
  });

  it('stop() ends every waiter and refuses new ones', async () => {
    const waits = [
      notifier.waitForChange(ALICE, [ROOM], token(), 30_000),
      notifier.waitForChange(BOB, [ROOM, OTHER_ROOM], token(), 30_000),
      notifier.waitForChange(BOB, [], token(), 30_000),
    ];
    notifier.stop();
    expect(await Promise.all(waits)).toEqual(['stopped', 'stopped', 'stopped']);
    expect(notifier.waiting).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    expect(await notifier.waitForChange(ALICE, [ROOM], token(), 30_000)).toBe('stopped');
    notifier.notify({ stream: 'events', position: 9, roomIds: [ROOM] });
  });

  it('returns at once for a relevant change notified just before the wait began', async () => {
    notifier.notify({ stream: 'events', position: 7, roomIds: [ROOM] });
    notifier.notify({ stream: 'presence', position: 2, userIds: [ALICE] });
    expect(
      await notifier.waitForChange(ALICE, [ROOM], token({ events: 6, presence: 2 }), 30_000),
    ).toBe('changed');
    expect(await notifier.waitForChange(BOB, [ROOM], token({ events: 7, presence: 1 }), 0)).toBe(
      'timeout',
    );
  });

  it('returns at once when changes past since were forgotten', async () => {
    const small = new Notifier({ recentChanges: 2 });
    small.notify({ stream: 'events', position: 1, roomIds: [OTHER_ROOM] });
    small.notify({ stream: 'events', position: 2, roomIds: [OTHER_ROOM] });
    small.notify({ stream: 'events', position: 3, roomIds: [OTHER_ROOM] });
    // Position 1 was forgotten: a waiter from before it cannot be sure it was irrelevant.
    expect(await small.waitForChange(ALICE, [ROOM], token(), 1_000)).toBe('changed');
    const wait = small.waitForChange(ALICE, [ROOM], token({ events: 1 }), 1_000);
    vi.advanceTimersByTime(1_000);
    expect(await wait).toBe('timeout');
    small.stop();
  });
});
