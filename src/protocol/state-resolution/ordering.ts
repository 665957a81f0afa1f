/** Orderings shared by the state resolution algorithms: event ID comparison, a heap, Kahn's sort. */

import { compareCodePoints } from '../../core/canonical-json.js';

/**
 * Compares event IDs by Unicode code point, as other servers (Python, Rust) compare strings. Event
 * IDs are nearly always ASCII, so this compares UTF-16 units and falls back to code points only
 * where the two orders can differ: a surrogate against a unit above the surrogate range.
 */
export function compareEventIds(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) return compareCodePoints(a.slice(i), b.slice(i));
    return x - y;
  }
  return a.length - b.length;
}

/** A binary min-heap under `compare`. */
export class MinHeap<T> {
  readonly #items: T[] = [];
  readonly #compare: (a: T, b: T) => number;

  constructor(compare: (a: T, b: T) => number) {
    this.#compare = compare;
  }

  get size(): number {
    return this.#items.length;
  }

  push(item: T): void {
    const items = this.#items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.#compare(items[i] as T, items[parent] as T) >= 0) break;
      [items[i], items[parent]] = [items[parent] as T, items[i] as T];
      i = parent;
    }
  }

  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    items[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < items.length && this.#compare(items[left] as T, items[smallest] as T) < 0) {
        smallest = left;
      }
      if (right < items.length && this.#compare(items[right] as T, items[smallest] as T) < 0) {
        smallest = right;
      }
      if (smallest === i) return top;
      [items[i], items[smallest]] = [items[smallest] as T, items[i] as T];
      i = smallest;
    }
  }
}

/**
 * Kahn's algorithm on a graph of `node → the nodes it points at` (for state resolution: an event
 * and its auth events). A node is emitted once every node it points at has been, and among the
 * ready nodes the smallest under `compare` goes first, giving the lexicographically smallest
 * topological order. Edges to nodes outside the graph are ignored; nodes on a cycle (impossible in
 * a valid auth DAG) are left out rather than looping.
 */
export function lexicographicalTopologicalSort<T>(
  graph: ReadonlyMap<T, Iterable<T>>,
  compare: (a: T, b: T) => number,
): T[] {
  const pending = new Map<T, number>();
  const pointedAtBy = new Map<T, T[]>();
  const ready = new MinHeap<T>(compare);
  for (const [node, targets] of graph) {
    let count = 0;
    for (const target of new Set(targets)) {
      if (!graph.has(target) || target === node) continue;
      count++;
      let sources = pointedAtBy.get(target);
      if (sources === undefined) pointedAtBy.set(target, (sources = []));
      sources.push(node);
    }
    pending.set(node, count);
    if (count === 0) ready.push(node);
  }
  const sorted: T[] = [];
  for (let node = ready.pop(); node !== undefined; node = ready.pop()) {
    sorted.push(node);
    for (const source of pointedAtBy.get(node) ?? []) {
      const left = (pending.get(source) ?? 0) - 1;
      pending.set(source, left);
      if (left === 0) ready.push(source);
    }
  }
  return sorted;
}
