import { describe, expect, it } from 'vitest';
import { DEFAULT_SCRYPT_COST, PasswordHasher } from './password-hasher.js';

const cheap = { ln: 4, r: 8, p: 1 };

describe('PasswordHasher', () => {
  it('hashes with the default cost N=2^17, r=8, p=1 as a PHC string, and verifies', async () => {
    const hasher = new PasswordHasher();
    expect(hasher.cost).toEqual(DEFAULT_SCRYPT_COST);
    const hash = await hasher.hash('correct horse');
    expect(hash).toMatch(/^\$scrypt\$ln=17,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(await hasher.verify('correct horse', hash)).toBe(true);
    expect(await hasher.verify('correct horsE', hash)).toBe(false);
  });

  it('salts every hash and verifies with the cost recorded in the hash', async () => {
    const strong = new PasswordHasher({ cost: { ln: 6, r: 8, p: 1 } });
    const weak = new PasswordHasher({ cost: cheap });
    const a = await weak.hash('pw');
    const b = await weak.hash('pw');
    expect(a).not.toBe(b);
    expect(await strong.verify('pw', a)).toBe(true);
  });

  it('treats NFKC-equivalent passwords as the same', async () => {
    const hasher = new PasswordHasher({ cost: cheap });
    const hash = await hasher.hash('caf\u00e9');
    expect(await hasher.verify('cafe\u0301', hash)).toBe(true);
  });

  it('rejects null, malformed and absurd-cost hashes without throwing', async () => {
    const hasher = new PasswordHasher({ cost: cheap });
    const good = await hasher.hash('pw');
    expect(await hasher.verify('pw', null)).toBe(false);
    expect(await hasher.verify('pw', 'plaintext')).toBe(false);
    expect(await hasher.verify('pw', good.replace('ln=4', 'ln=40'))).toBe(false);
    expect(await hasher.verify('pw', good.replace(/\$[^$]+$/, '$AAAA'))).toBe(false);
  });

  it('runs at most `concurrency` hashes at once', async () => {
    const hasher = new PasswordHasher({ cost: { ln: 12, r: 8, p: 1 }, concurrency: 1 });
    const pending = Promise.all(['a', 'b', 'c'].map((pw) => hasher.hash(pw)));
    expect(hasher.load).toEqual({ running: 1, waiting: 2 });
    const hashes = await pending;
    expect(hasher.load).toEqual({ running: 0, waiting: 0 });
    expect(new Set(hashes).size).toBe(3);
    expect(() => new PasswordHasher({ concurrency: 0 })).toThrow(RangeError);
    expect(() => new PasswordHasher({ cost: { ln: 0, r: 8, p: 1 } })).toThrow(RangeError);
  });
});
