import { describe, expect, it } from 'vitest';
import { KeyedLock } from './keyed-lock.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('KeyedLock', () => {
  it('runs holders of one key one at a time, in arrival order', async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const task = (name: string) =>
      lock.run('room', async () => {
        log.push(`${name} in`);
        await tick();
        log.push(`${name} out`);
        return name;
      });
    expect(await Promise.all([task('a'), task('b'), task('c')])).toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['a in', 'a out', 'b in', 'b out', 'c in', 'c out']);
    expect(lock.size).toBe(0);
  });

  it('lets different keys run together, and a failure release the key', async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    let release!: () => void;
    const blocked = lock.run('a', () => new Promise<void>((resolve) => (release = resolve)));
    await lock.run('b', async () => log.push('b ran while a held'));
    await expect(lock.run('c', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await lock.run('c', async () => log.push('c again'));
    release();
    await blocked;
    expect(log).toEqual(['b ran while a held', 'c again']);
    expect(lock.size).toBe(0);
  });
});
