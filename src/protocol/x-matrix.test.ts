import { describe, expect, it } from 'vitest';
import { generateSigningKey } from './signing-key.js';
import { parseXMatrixHeader, verifyXMatrix, xMatrixHeader } from './x-matrix.js';

const request = {
  method: 'PUT',
  uri: '/_matrix/federation/v1/send/txn1?x=1',
  origin: 'origin.example',
  destination: 'dest.example',
  content: { pdus: [], edus: [] },
};

describe('X-Matrix request signatures', () => {
  it('signs a request so that the destination can verify it', () => {
    const key = generateSigningKey('k1');
    const header = xMatrixHeader(request, key);
    expect(header).toMatch(
      /^X-Matrix origin="origin\.example",destination="dest\.example",key="ed25519:k1",sig="[A-Za-z0-9+/]+"$/,
    );
    const parsed = parseXMatrixHeader(header);
    expect(parsed).toMatchObject({
      origin: 'origin.example',
      destination: 'dest.example',
      key: 'ed25519:k1',
    });
    expect(verifyXMatrix(request, parsed!, key.publicKey)).toBe(true);
  });

  it('refuses a signature over anything else: method, target, body, destination or key', () => {
    const key = generateSigningKey('k1');
    const parsed = parseXMatrixHeader(xMatrixHeader(request, key))!;
    expect(verifyXMatrix({ ...request, method: 'POST' }, parsed, key.publicKey)).toBe(false);
    expect(
      verifyXMatrix({ ...request, uri: '/_matrix/federation/v1/send/txn2' }, parsed, key.publicKey),
    ).toBe(false);
    expect(verifyXMatrix({ ...request, content: { pdus: [{}] } }, parsed, key.publicKey)).toBe(
      false,
    );
    expect(verifyXMatrix({ ...request, content: undefined }, parsed, key.publicKey)).toBe(false);
    expect(verifyXMatrix({ ...request, destination: 'other.example' }, parsed, key.publicKey)).toBe(
      false,
    );
    expect(verifyXMatrix(request, parsed, generateSigningKey('k1').publicKey)).toBe(false);
  });

  it('parses the header as RFC 9110 auth parameters', () => {
    expect(
      parseXMatrixHeader(
        'X-Matrix  ORIGIN=origin.example:8448 , Key="ed25519:a\\"b", sig=abc,extra="x",destination="d.example"',
      ),
    ).toEqual({
      origin: 'origin.example:8448',
      destination: 'd.example',
      key: 'ed25519:a"b',
      sig: 'abc',
    });
    // Older senders omit the destination.
    expect(parseXMatrixHeader('X-Matrix origin=o,key="ed25519:k",sig="s"')).toEqual({
      origin: 'o',
      destination: undefined,
      key: 'ed25519:k',
      sig: 's',
    });
  });

  it('gives nothing for another scheme, missing parameters or broken quoting', () => {
    expect(parseXMatrixHeader('Bearer abc')).toBeUndefined();
    expect(parseXMatrixHeader('X-Matrix origin="o",key="ed25519:k"')).toBeUndefined();
    expect(parseXMatrixHeader('X-Matrix origin="o,key="ed25519:k",sig="s')).toBeUndefined();
    expect(parseXMatrixHeader('X-Matrix')).toBeUndefined();
  });
});
