import { describe, expect, it } from 'vitest';
import { decodeBase64, decodeBase64Url, encodeBase64, encodeBase64Url } from './base64.js';

const utf8 = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));

// The appendix's "Unpadded Base64" examples.
const SPEC_EXAMPLES: ReadonlyArray<readonly [plain: string, encoded: string]> = [
  ['', ''],
  ['f', 'Zg'],
  ['fo', 'Zm8'],
  ['foo', 'Zm9v'],
  ['foob', 'Zm9vYg'],
  ['fooba', 'Zm9vYmE'],
  ['foobar', 'Zm9vYmFy'],
];

/** Deterministic bytes, so that failures reproduce. */
function bytesOf(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (seed * 31 + i * 151 + ((i * i) >> 2)) & 0xff;
  return bytes;
}

describe('unpadded base64: spec examples', () => {
  it.each(SPEC_EXAMPLES)('encodes %j as %j in both alphabets', (plain, encoded) => {
    expect(encodeBase64(utf8(plain))).toBe(encoded);
    // None of the examples use characters 62 or 63, so the URL-safe form is identical.
    expect(encodeBase64Url(utf8(plain))).toBe(encoded);
  });

  it.each(SPEC_EXAMPLES)('decodes %j from %j in both alphabets', (plain, encoded) => {
    expect(decodeBase64(encoded)).toEqual(utf8(plain));
    expect(decodeBase64Url(encoded)).toEqual(utf8(plain));
  });
});

describe('unpadded base64: alphabets', () => {
  // 0xfb 0xff 0xbf is 111110 111111 111110 111111: values 62, 63, 62, 63.
  const highBytes = new Uint8Array([0xfb, 0xff, 0xbf]);

  it('uses + and / in the standard alphabet', () => {
    expect(encodeBase64(highBytes)).toBe('+/+/');
    expect(decodeBase64('+/+/')).toEqual(highBytes);
  });

  it('uses - and _ in the URL-safe alphabet', () => {
    expect(encodeBase64Url(highBytes)).toBe('-_-_');
    expect(decodeBase64Url('-_-_')).toEqual(highBytes);
  });

  it("refuses the other alphabet's characters", () => {
    expect(() => decodeBase64('-_-_')).toThrow(TypeError);
    expect(() => decodeBase64Url('+/+/')).toThrow(TypeError);
  });

  it('decodes the v3 and v4 event ID hashes from the room version specs', () => {
    const v3 = 'acR1l0raoZnm60CBwAVgqbZqoO/mYU81xysh1u7XcJk';
    const v4 = 'Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg';
    expect(decodeBase64(v3)).toHaveLength(32);
    expect(encodeBase64(decodeBase64(v3))).toBe(v3);
    expect(decodeBase64Url(v4)).toHaveLength(32);
    expect(encodeBase64Url(decodeBase64Url(v4))).toBe(v4);
  });

  it('round-trips the signature from the JSON signing test vector', () => {
    const signature =
      'K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ';
    expect(decodeBase64(signature)).toHaveLength(64);
    expect(encodeBase64(decodeBase64(signature))).toBe(signature);
  });

  it('accepts non-zero trailing bits, as in the spec signing key seed', () => {
    // The last character, "1", carries bits beyond the 32 bytes; a strict decoder would refuse
    // the spec's own test vector.
    const seed = decodeBase64('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1');
    expect(seed).toHaveLength(32);
    expect(Buffer.from(seed).toString('hex')).toBe(
      '6090c103d5e7af6b15a970fd563ed75549e6159719ae5c3c31dee4316fb75c0d',
    );
    expect(encodeBase64(seed)).toBe('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0');
  });
});

describe('unpadded base64: round trips', () => {
  it('round-trips every length from 0 to 70 bytes in both alphabets', () => {
    for (let length = 0; length <= 70; length++) {
      const bytes = bytesOf(length, length);
      const standard = encodeBase64(bytes);
      const urlSafe = encodeBase64Url(bytes);
      expect(standard).not.toContain('=');
      expect(urlSafe).toMatch(/^[A-Za-z0-9_-]*$/);
      expect(standard.length).toBe(Math.ceil((length * 4) / 3));
      expect(decodeBase64(standard)).toEqual(bytes);
      expect(decodeBase64Url(urlSafe)).toEqual(bytes);
    }
  });

  it('encodes only the viewed part of a typed array', () => {
    const view = new Uint8Array([0, 1, 2, 0x66, 0x6f, 0x6f, 9]).subarray(3, 6);
    expect(encodeBase64(view)).toBe('Zm9v');
    expect(encodeBase64Url(view)).toBe('Zm9v');
  });

  it('returns a plain Uint8Array', () => {
    expect(Object.getPrototypeOf(decodeBase64('Zm9v'))).toBe(Uint8Array.prototype);
  });
});

describe('unpadded base64: padding and invalid input', () => {
  it('accepts correctly padded input (the appendix says SHOULD)', () => {
    expect(decodeBase64('Zg==')).toEqual(utf8('f'));
    expect(decodeBase64('Zm8=')).toEqual(utf8('fo'));
    expect(decodeBase64('Zm9vYg==')).toEqual(utf8('foob'));
    expect(decodeBase64Url('-_-_Zg==')).toEqual(new Uint8Array([0xfb, 0xff, 0xbf, 0x66]));
  });

  it.each([
    ['Z', 'a single leftover character cannot hold a byte'],
    ['Zm9vY', 'length 1 mod 4'],
    ['Zg=', 'wrong amount of padding'],
    ['Zm9v=', 'padding where none belongs'],
    ['Zg===', 'too much padding'],
    ['=', 'padding only'],
    ['==', 'padding only'],
    ['Z=g', 'padding in the middle'],
    ['Zm9v Yg', 'a space'],
    ['Zm9v\n', 'a newline'],
    [' Zm9v', 'leading whitespace'],
    ['Zm9v!', 'a character outside the alphabet'],
    ['Zm9v\u00e9', 'a non-ASCII character'],
  ])('rejects %j (%s)', (text) => {
    expect(() => decodeBase64(text)).toThrow(TypeError);
    expect(() => decodeBase64Url(text)).toThrow(TypeError);
  });

  it('names the alphabet in the error', () => {
    expect(() => decodeBase64('*')).toThrow('Not valid base64');
    expect(() => decodeBase64Url('*')).toThrow('Not valid URL-safe base64');
  });
});
