import { describe, expect, it } from 'vitest';
import { RouterAcks } from './router-acks.js';

describe('RouterAcks', () => {
  it('resolves at once with no router, and once every router has asked past the version', async () => {
    const acks = new RouterAcks();
    expect(await acks.waitFor(5, 1_000)).toBe(true);

    const endA = acks.asked('a', 4);
    acks.asked('b', 4);
    let settled: boolean | undefined;
    const waiting = acks.waitFor(5, 5_000).then((ok) => (settled = ok));
    endA();
    acks.asked('a', 5);
    await Promise.resolve();
    expect(settled).toBeUndefined();
    acks.asked('b', 5);
    expect(await waiting).toBe(true);
  });

  it('gives up after the timeout when a router never asks again', async () => {
    const acks = new RouterAcks();
    acks.asked('silent', 1);
    expect(await acks.waitFor(2, 20)).toBe(false);
  });

  it('forgets a router that has not asked for 45 s and has no ask open', async () => {
    let now = 0;
    const acks = new RouterAcks(() => now);
    const end = acks.asked('gone', 1);
    end();
    now = 46_000;
    expect(acks.liveRouters).toBe(0);
    expect(await acks.waitFor(2, 1_000)).toBe(true);
  });
});
