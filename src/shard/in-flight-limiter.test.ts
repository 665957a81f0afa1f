import { describe, expect, it } from 'vitest';
import { InFlightLimiter, QueueFullError } from './in-flight-limiter.js';

/** Whether a promise has settled, after letting pending callbacks run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('InFlightLimiter', () => {
  it('lets up to maxInFlight through at once and queues the rest', async () => {
    const limiter = new InFlightLimiter(2, 10);
    const first = await limiter.acquire();
    await limiter.acquire();
    const third = limiter.acquire();
    expect(limiter.inFlight).toBe(2);
    expect(limiter.queued).toBe(1);
    expect(await settled(third)).toBe(false);
    first();
    expect(await settled(third)).toBe(true);
    expect(limiter.inFlight).toBe(2);
    expect(limiter.queued).toBe(0);
  });

  it('serves waiters first in, first out', async () => {
    const limiter = new InFlightLimiter(1, 10);
    const holder = await limiter.acquire();
    const order: number[] = [];
    const waiters = [1, 2, 3].map((n) =>
      limiter.acquire().then((release) => {
        order.push(n);
        release();
      }),
    );
    holder();
    await Promise.all(waiters);
    expect(order).toEqual([1, 2, 3]);
    expect(limiter.inFlight).toBe(0);
  });

  it('refuses a request at once when the queue is full', async () => {
    const limiter = new InFlightLimiter(1, 2);
    await limiter.acquire();
    const queued = [limiter.acquire(), limiter.acquire()];
    await expect(limiter.acquire()).rejects.toBeInstanceOf(QueueFullError);
    expect(limiter.queued).toBe(2);
    for (const waiter of queued) expect(await settled(waiter)).toBe(false);
  });

  it('drops a waiter whose client went away, and keeps its place for the next', async () => {
    const limiter = new InFlightLimiter(1, 10);
    const holder = await limiter.acquire();
    const leaving = new AbortController();
    const gone = limiter.acquire(leaving.signal);
    const staying = limiter.acquire();
    leaving.abort(new Error('client left'));
    await expect(gone).rejects.toThrow('client left');
    expect(limiter.queued).toBe(1);
    holder();
    const release = await staying;
    expect(limiter.inFlight).toBe(1);
    release();
    expect(limiter.inFlight).toBe(0);
  });

  it('counts a release once, however often it is called', async () => {
    const limiter = new InFlightLimiter(2, 10);
    const release = await limiter.acquire();
    await limiter.acquire();
    release();
    release();
    expect(limiter.inFlight).toBe(1);
  });

  it('refuses every waiter when told to', async () => {
    const limiter = new InFlightLimiter(1, 10);
    await limiter.acquire();
    const waiters = [limiter.acquire(), limiter.acquire()];
    limiter.refuseQueued(new Error('tenant removed'));
    for (const waiter of waiters) await expect(waiter).rejects.toThrow('tenant removed');
    expect(limiter.queued).toBe(0);
  });

  it('rejects impossible limits', () => {
    expect(() => new InFlightLimiter(0, 1)).toThrow(RangeError);
    expect(() => new InFlightLimiter(1, -1)).toThrow(RangeError);
  });

  it('keeps a running mean of how long slots are held', async () => {
    let now = 0;
    const limiter = new InFlightLimiter(2, 2, () => now);
    expect(limiter.meanHoldMs).toBeUndefined();
    const first = await limiter.acquire();
    now = 100;
    first();
    expect(limiter.meanHoldMs).toBe(100);
    const second = await limiter.acquire();
    now = 300;
    second();
    // Weighted towards the past: 100 + 0.2 × (200 - 100).
    expect(limiter.meanHoldMs).toBeCloseTo(120);
  });

  it('refuses past the queue with a retry time from the queue and the hold times', async () => {
    let now = 0;
    const limiter = new InFlightLimiter(2, 4, () => now);
    const sample = await limiter.acquire();
    now = 500;
    sample();
    const holders = [await limiter.acquire(), await limiter.acquire()];
    const waiting = Array.from({ length: 4 }, () => limiter.acquire());
    const refusal = await limiter.acquire().catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(QueueFullError);
    // 4 queued × 500 ms ÷ 2 slots.
    expect((refusal as QueueFullError).retryAfterMs).toBe(1_000);
    for (const release of holders) release();
    for (const slot of waiting) (await slot)();
  });
});
