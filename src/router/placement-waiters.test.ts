import { describe, expect, it } from 'vitest';
import { PlacementWaiters } from './placement-waiters.js';

const inMs = (ms: number) => performance.now() + ms;

describe('PlacementWaiters', () => {
  it('wakes every waiting request at a change, and empties its list', async () => {
    const waiters = new PlacementWaiters();
    // One client each, as in the router.
    const waits = Array.from({ length: 1_000 }, () =>
      waiters.next(inMs(10_000), new AbortController().signal),
    );
    expect(waiters.size).toBe(1_000);
    waiters.changed();
    expect(new Set(await Promise.all(waits))).toEqual(new Set(['changed']));
    expect(waiters.size).toBe(0);
  });

  it('ends a wait at its deadline, leaving the list', async () => {
    const waiters = new PlacementWaiters();
    const started = performance.now();
    const outcome = await waiters.next(inMs(60), new AbortController().signal);
    expect(outcome).toBe('timeout');
    expect(performance.now() - started).toBeGreaterThanOrEqual(50);
    expect(waiters.size).toBe(0);
  });

  it('ends a wait when its client goes away, leaving the list', async () => {
    const waiters = new PlacementWaiters();
    const client = new AbortController();
    const wait = waiters.next(inMs(10_000), client.signal);
    const other = waiters.next(inMs(10_000), new AbortController().signal);
    client.abort();
    expect(await wait).toBe('gone');
    expect(waiters.size).toBe(1);
    waiters.changed();
    expect(await other).toBe('changed');
    expect(await waiters.next(inMs(10_000), client.signal)).toBe('gone');
  });

  it('ends every wait, present and future, once closed', async () => {
    const waiters = new PlacementWaiters();
    const wait = waiters.next(inMs(10_000), new AbortController().signal);
    waiters.close();
    expect(await wait).toBe('closed');
    expect(await waiters.next(inMs(10_000), new AbortController().signal)).toBe('closed');
    expect(waiters.size).toBe(0);
  });
});
