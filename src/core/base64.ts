/**
 * Unpadded Base64 (appendices: "Unpadded Base64"), in the standard and the URL-safe alphabet.
 * Decoding accepts padded and unpadded input but refuses characters outside the alphabet.
 */

const STANDARD = /^[A-Za-z0-9+/]*$/;
const URL_SAFE = /^[A-Za-z0-9_-]*$/;

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    .toString('base64')
    .replace(/=+$/, '');
}

export function encodeBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

export function decodeBase64(text: string): Uint8Array {
  if (!isWellFormed(text, STANDARD)) {
    throw new TypeError('Not valid base64');
  }
  return new Uint8Array(Buffer.from(text, 'base64'));
}

export function decodeBase64Url(text: string): Uint8Array {
  if (!isWellFormed(text, URL_SAFE)) {
    throw new TypeError('Not valid URL-safe base64');
  }
  return new Uint8Array(Buffer.from(text, 'base64url'));
}

/** Padding is optional, but when present it must be exactly the `=`s RFC 4648 would add. */
function isWellFormed(text: string, alphabet: RegExp): boolean {
  const body = text.replace(/=+$/, '');
  const padding = text.length - body.length;
  if (!alphabet.test(body) || body.length % 4 === 1) return false;
  return padding === 0 || padding === (4 - (body.length % 4)) % 4;
}
