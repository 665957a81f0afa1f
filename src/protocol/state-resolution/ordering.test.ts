import { describe, expect, it } from 'vitest';
import { MinHeap, compareEventIds, lexicographicalTopologicalSort } from './ordering.js';

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

describe('lexicographicalTopologicalSort', () => {
  it('emits a node after everything it points at, the smallest ready node first', () => {
    // The lexicographical sort scenario: l → o, m → n, m → o, n → o, p → o.
    const graph = new Map<string, string[]>([
      ['l', ['o']],
      ['m', ['n', 'o']],
      ['n', ['o']],
      ['o', []],
      ['p', ['o']],
    ]);
    expect(lexicographicalTopologicalSort(graph, byString)).toEqual(['o', 'l', 'n', 'm', 'p']);
  });

  it('lets the comparison decide between independent nodes only', () => {
    const graph = new Map<string, string[]>([
      ['a', ['z']],
      ['b', []],
      ['z', []],
    ]);
    expect(lexicographicalTopologicalSort(graph, byString)).toEqual(['b', 'z', 'a']);
    const reversed = (x: string, y: string) => byString(y, x);
    expect(lexicographicalTopologicalSort(graph, reversed)).toEqual(['z', 'b', 'a']);
  });

  it('ignores edges leaving the graph and duplicate edges, and drops cycles', () => {
    const graph = new Map<string, string[]>([
      ['a', ['outside', 'b', 'b']],
      ['b', []],
      ['c', ['d']],
      ['d', ['c']],
    ]);
    expect(lexicographicalTopologicalSort(graph, byString)).toEqual(['b', 'a']);
  });

  it('does not depend on the order of the graph entries', () => {
    const entries: [string, string[]][] = [
      ['e', ['c', 'd']],
      ['d', ['a']],
      ['c', ['a', 'b']],
      ['b', []],
      ['a', []],
    ];
    const sorted = lexicographicalTopologicalSort(new Map(entries), byString);
    expect(sorted).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(lexicographicalTopologicalSort(new Map([...entries].reverse()), byString)).toEqual(
      sorted,
    );
  });
});

describe('compareEventIds', () => {
  it('orders ASCII IDs as strings', () => {
    const ids = ['$b', '$B', '$a', '$ab', '$', '$A1'];
    expect([...ids].sort(compareEventIds)).toEqual(['$', '$A1', '$B', '$a', '$ab', '$b']);
  });

  it('orders by code point where UTF-16 order differs', () => {
    const astral = '$\u{1F600}'; // a surrogate pair, code point above U+FFFF
    const bmp = '$\uFFFD'; // above the surrogate range, below U+10000
    expect(compareEventIds(bmp, astral)).toBeLessThan(0);
    expect(compareEventIds(astral, bmp)).toBeGreaterThan(0);
    expect(compareEventIds('$a', astral)).toBeLessThan(0);
    expect(compareEventIds(astral, astral)).toBe(0);
  });
});

describe('MinHeap', () => {
  it('pops in ascending order', () => {
    const heap = new MinHeap<number>((a, b) => a - b);
    for (const n of [5, 3, 9, 1, 4, 1, 8]) heap.push(n);
    const out: number[] = [];
    while (heap.size > 0) out.push(heap.pop() as number);
    expect(out).toEqual([1, 1, 3, 4, 5, 8, 9]);
    expect(heap.pop()).toBeUndefined();
  });
});
