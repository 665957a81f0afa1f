import { describe, expect, it } from 'vitest';
import { PlacementFeed } from './placement-feed.js';

/** Whether the promise has settled after the pending callbacks ran. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('PlacementFeed', () => {
  it('answers at once when the caller is behind (or ahead: a replaced registry)', async () => {
    const feed = new PlacementFeed(5);
    expect(await settled(feed.waitForChange(4, 60_000))).toBe(true);
    expect(await settled(feed.waitForChange(9, 60_000))).toBe(true);
  });

  it('waits while the version is the caller’s and wakes on a new one', async () => {
    const feed = new PlacementFeed(5);
    const waiting = feed.waitForChange(5, 60_000);
    expect(await settled(waiting)).toBe(false);
    feed.publish(6);
    expect(await settled(waiting)).toBe(true);
    expect(feed.current).toBe(6);
  });

  it('ends at the timeout, on abort, and when closed', async () => {
    const feed = new PlacementFeed(1);
    const start = Date.now();
    await feed.waitForChange(1, 50);
    expect(Date.now() - start).toBeGreaterThanOrEqual(45);

    const controller = new AbortController();
    const aborted = feed.waitForChange(1, 60_000, controller.signal);
    controller.abort();
    expect(await settled(aborted)).toBe(true);

    const closing = feed.waitForChange(1, 60_000);
    feed.close();
    expect(await settled(closing)).toBe(true);
    expect(await settled(feed.waitForChange(1, 60_000))).toBe(true);
  });
});
