/**
 * The in-memory notifier of one tenant instance: `/sync` long-polls wait on it, and the services
 * that move a stream tell it what moved (DESIGN.md, "Data flow").
 *
 * A change names its stream, its new position, and who can see it: the rooms whose members see
 * it and/or the users who see it wherever they are. A waiter is woken when a change past its
 * `since` position in that stream names one of its rooms or its user. Waiters are indexed by
 * room and by user, so a change touches only the waiters it concerns; nothing polls.
 *
 * The notifier also keeps the last few hundred changes, so that a change that happened between
 * the moment a sync computed its (empty) response and the moment it started waiting still wakes
 * it: pass `waitForChange` the token the response was computed up to.
 */
import type { StreamName, SyncToken } from '../sync/sync-token.js';

export interface StreamChange {
  readonly stream: StreamName;
  /** The stream's position after the change. */
  readonly position: number;
  /** Rooms whose members see the change (room events, public receipts, typing). */
  readonly roomIds?: readonly string[];
  /** Users who see the change wherever they are (account data, private receipts, presence). */
  readonly userIds?: readonly string[];
}

/** Why `waitForChange` returned. */
export type WaitOutcome = 'changed' | 'timeout' | 'aborted' | 'stopped';

export interface NotifierOptions {
  /** How many recent changes to keep for waiters that arrive just after them (default 1024). */
  recentChanges?: number;
}

const DEFAULT_RECENT_CHANGES = 1024;
/** setTimeout's limit; a longer wait would fire at once. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

interface Waiter {
  readonly userId: string;
  readonly roomIds: ReadonlySet<string>;
  readonly since: SyncToken;
  settle(outcome: WaitOutcome): void;
}

export class Notifier {
  readonly #byUser = new Map<string, Set<Waiter>>();
  readonly #byRoom = new Map<string, Set<Waiter>>();
  /** Recent changes, a ring buffer; `#evictedUpTo` is the last position per stream it lost. */
  readonly #recent: (StreamChange | undefined)[];
  #recentNext = 0;
  readonly #evictedUpTo = new Map<StreamName, number>();
  #waiters = 0;
  #stopped = false;

  constructor(options: NotifierOptions = {}) {
    const size = options.recentChanges ?? DEFAULT_RECENT_CHANGES;
    if (!Number.isInteger(size) || size < 1) throw new RangeError('recentChanges must be >= 1');
    this.#recent = new Array<StreamChange | undefined>(size);
  }

  /** How many waiters are waiting (for tests and metrics). */
  get waiting(): number {
    return this.#waiters;
  }

  /** Tells waiters that a stream moved. Call it after the change is committed. */
  notify(change: StreamChange): void {
    if (this.#stopped) return;
    this.#remember(change);
    const woken = new Set<Waiter>();
    for (const roomId of change.roomIds ?? []) {
      for (const waiter of this.#byRoom.get(roomId) ?? []) woken.add(waiter);
    }
    for (const userId of change.userIds ?? []) {
      for (const waiter of this.#byUser.get(userId) ?? []) woken.add(waiter);
    }
    for (const waiter of woken) {
      if (change.position > waiter.since[change.stream]) waiter.settle('changed');
    }
  }

  /**
   * Resolves when a change past `since` that `userId` can see (in one of `roomIds`, or naming
   * the user) is notified, at once if one already was; or after `timeoutMs`; or when `signal`
   * aborts (a shard ends long-polls early when the tenant moves or stops); or at `stop()`.
   * `since` should be the token the caller's empty response was computed up to.
   */
  waitForChange(
    userId: string,
    roomIds: Iterable<string>,
    since: SyncToken,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<WaitOutcome> {
    if (this.#stopped) return Promise.resolve('stopped');
    if (signal?.aborted) return Promise.resolve('aborted');
    const rooms = new Set(roomIds);
    if (this.#changedSince(userId, rooms, since)) return Promise.resolve('changed');
    if (!(timeoutMs > 0)) return Promise.resolve('timeout');

    return new Promise<WaitOutcome>((resolve) => {
      let settled = false;
      const waiter: Waiter = {
        userId,
        roomIds: rooms,
        since,
        settle: (outcome) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          this.#remove(waiter);
          resolve(outcome);
        },
      };
      const onAbort = () => waiter.settle('aborted');
      const timer = setTimeout(() => waiter.settle('timeout'), Math.min(timeoutMs, MAX_TIMEOUT_MS));
      // A long-poll never keeps the process alive on its own.
      timer.unref();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#add(waiter);
    });
  }

  /** Ends every wait with `stopped` and refuses new ones (the tenant is stopping). */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    const all = new Set<Waiter>();
    for (const waiters of this.#byUser.values()) for (const waiter of waiters) all.add(waiter);
    for (const waiter of all) waiter.settle('stopped');
    this.#recent.fill(undefined);
  }

  #changedSince(userId: string, rooms: ReadonlySet<string>, since: SyncToken): boolean {
    for (const [stream, position] of this.#evictedUpTo) {
      // Changes past `since` may have been forgotten: let the caller look for itself.
      if (position > since[stream]) return true;
    }
    for (const change of this.#recent) {
      if (change === undefined || change.position <= since[change.stream]) continue;
      if (change.userIds?.includes(userId)) return true;
      if (change.roomIds?.some((roomId) => rooms.has(roomId))) return true;
    }
    return false;
  }

  #remember(change: StreamChange): void {
    const evicted = this.#recent[this.#recentNext];
    if (evicted !== undefined) {
      const upTo = this.#evictedUpTo.get(evicted.stream) ?? 0;
      if (evicted.position > upTo) this.#evictedUpTo.set(evicted.stream, evicted.position);
    }
    this.#recent[this.#recentNext] = change;
    this.#recentNext = (this.#recentNext + 1) % this.#recent.length;
  }

  #add(waiter: Waiter): void {
    this.#waiters += 1;
    addTo(this.#byUser, waiter.userId, waiter);
    for (const roomId of waiter.roomIds) addTo(this.#byRoom, roomId, waiter);
  }

  #remove(waiter: Waiter): void {
    this.#waiters -= 1;
    removeFrom(this.#byUser, waiter.userId, waiter);
    for (const roomId of waiter.roomIds) removeFrom(this.#byRoom, roomId, waiter);
  }
}

function addTo(index: Map<string, Set<Waiter>>, key: string, waiter: Waiter): void {
  let waiters = index.get(key);
  if (waiters === undefined) {
    waiters = new Set();
    index.set(key, waiters);
  }
  waiters.add(waiter);
}

function removeFrom(index: Map<string, Set<Waiter>>, key: string, waiter: Waiter): void {
  const waiters = index.get(key);
  if (waiters === undefined) return;
  waiters.delete(waiter);
  if (waiters.size === 0) index.delete(key);
}
