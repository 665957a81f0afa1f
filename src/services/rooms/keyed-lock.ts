/**
 * Mutual exclusion per key (a room ID): callers with the same key run one after another in
 * arrival order, callers with different keys do not wait for each other. Each owner keeps its
 * own instance, so a lock serialises work within one tenant only.
 */
export class KeyedLock {
  /** The last holder's completion per key; removed when nobody holds or waits for the key. */
  readonly #tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key);
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    const tail = previous === undefined ? done : previous.then(() => done);
    this.#tails.set(key, tail);
    try {
      if (previous !== undefined) await previous;
      return await fn();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }

  /** Keys held or waited for right now. */
  get size(): number {
    return this.#tails.size;
  }
}
