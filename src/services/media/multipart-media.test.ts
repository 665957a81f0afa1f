import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { MultipartFormatError, multipartMedia, parseMultipartMedia } from './multipart-media.js';

describe('multipart media answers', () => {
  it('round-trips media bytes, CRLFs and dashes included', async () => {
    const bytes = Buffer.from('\r\n--not-a-boundary\r\n\r\n\x00\xff', 'latin1');
    const built = multipartMedia(
      { size: bytes.length, body: Readable.from([bytes]) },
      { 'Content-Type': 'image/png', 'Content-Disposition': 'inline; filename="a.png"' },
    );
    const body = await buffer(built.body);
    expect(body.length).toBe(built.length);
    const part = parseMultipartMedia(built.contentType, body);
    expect(part.bytes.equals(bytes)).toBe(true);
    expect(part.headers).toEqual({
      'content-type': 'image/png',
      'content-disposition': 'inline; filename="a.png"',
    });
  });

  it('reads a quoted boundary, a preamble and a Location part', () => {
    const body = Buffer.from(
      'preamble\r\n--b"x\r\nContent-Type: application/json\r\n\r\n{}\r\n' +
        '--b"x\r\nLocation: https://cdn.example/m\r\n\r\n\r\n--b"x--\r\n',
    );
    expect(() => parseMultipartMedia('multipart/mixed; boundary="b"x"', body)).toThrow();
    const simple = Buffer.from(body.toString().replaceAll('b"x', 'bx'));
    const part = parseMultipartMedia('Multipart/Mixed; boundary="bx"', simple);
    expect(part.headers.location).toBe('https://cdn.example/m');
    expect(part.bytes.length).toBe(0);
  });

  it('refuses answers that are not two parts of multipart/mixed', () => {
    const onePart = Buffer.from('--b\r\nContent-Type: application/json\r\n\r\n{}\r\n--b--\r\n');
    for (const [type, body] of [
      ['application/json', Buffer.from('{}')],
      ['multipart/mixed', onePart],
      ['multipart/mixed; boundary=b', onePart],
      [
        'multipart/mixed; boundary=b',
        Buffer.from('--b\r\nContent-Type: application/json\r\n\r\n{}'),
      ],
    ] as const) {
      expect(() => parseMultipartMedia(type, body)).toThrow(MultipartFormatError);
    }
  });
});
