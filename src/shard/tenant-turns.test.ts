import { describe, expect, it } from 'vitest';
import { MatrixError } from '../core/errors.js';
import { TenantTurns } from './tenant-turns.js';

/** Takes a turn for `tenant` and records `name` in `started` when it comes. */
function request(
  turns: TenantTurns<string>,
  started: string[],
  tenant: string,
  name: string,
  signal?: AbortSignal,
): Promise<void> {
  return turns.take(tenant, signal).then(() => void started.push(name));
}

describe('TenantTurns', () => {
  it('lets busy tenants take turns, each starting its own requests oldest first', async () => {
    const turns = new TenantTurns<string>();
    const started: string[] = [];
    const all = [
      request(turns, started, 'noisy', 'n1'),
      request(turns, started, 'noisy', 'n2'),
      request(turns, started, 'noisy', 'n3'),
      request(turns, started, 'quiet', 'q1'),
      request(turns, started, 'other', 'o1'),
    ];
    // The first request of the turn starts at once (nobody is waiting); the rest wait.
    expect(turns.waiting).toBe(4);
    expect(started).toEqual([]); // it starts after the tick that asked
    await Promise.all(all);
    expect(started).toEqual(['n1', 'q1', 'o1', 'n2', 'n3']);
    expect(turns.waiting).toBe(0);
  });

  it('starts one request per event-loop turn, so a newcomer never waits behind a backlog', async () => {
    const turns = new TenantTurns<string>();
    const started: string[] = [];
    const backlog = ['n1', 'n2', 'n3', 'n4', 'n5'].map((name) =>
      request(turns, started, 'noisy', name),
    );
    await backlog[0];
    expect(started).toEqual(['n1']);
    // Arrives while the noisy tenant's backlog waits: it goes before the rest of it.
    const quiet = request(turns, started, 'quiet', 'q1');
    await Promise.all([...backlog, quiet]);
    expect(started).toEqual(['n1', 'q1', 'n2', 'n3', 'n4', 'n5']);
  });

  it('lets a request whose client left leave the line with a 499', async () => {
    const turns = new TenantTurns<string>();
    const started: string[] = [];
    const leaving = new AbortController();
    const first = request(turns, started, 'a', 'a1');
    const gone = request(turns, started, 'b', 'b1', leaving.signal);
    const third = request(turns, started, 'a', 'a2');
    leaving.abort();
    const refusal = await gone.catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(MatrixError);
    expect(refusal).toMatchObject({ errcode: 'M_UNKNOWN', status: 499 });
    expect(turns.waiting).toBe(1); // a1 started at once; a2 waits
    await Promise.all([first, third]);
    expect(started).toEqual(['a1', 'a2']);
    expect(turns.waiting).toBe(0);
  });

  it('starts a lone request at once, and one request per turn without waiting', async () => {
    const turns = new TenantTurns<string>();
    const started: string[] = [];
    await request(turns, started, 'a', 'a1');
    expect(started).toEqual(['a1']);
    expect(turns.waiting).toBe(0);
    // A new event-loop turn: the next lone request starts at once too.
    await new Promise((resolve) => setImmediate(resolve));
    const second = request(turns, started, 'b', 'b1');
    expect(turns.waiting).toBe(0);
    await second;
    expect(started).toEqual(['a1', 'b1']);
  });

  it('refuses at once a request whose client has already left', async () => {
    const turns = new TenantTurns<string>();
    await expect(turns.take('a', AbortSignal.abort())).rejects.toMatchObject({ status: 499 });
    expect(turns.waiting).toBe(0);
  });
});
