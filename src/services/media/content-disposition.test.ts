import { describe, expect, it } from 'vitest';
import { contentDisposition, fileNameOfDisposition, isInlineSafe } from './content-disposition.js';

describe('media Content-Disposition', () => {
  it('serves only the spec’s safe types inline', () => {
    expect(isInlineSafe('image/png')).toBe(true);
    expect(isInlineSafe('Text/Plain; charset=utf-8')).toBe(true);
    expect(isInlineSafe('text/html')).toBe(false);
    expect(isInlineSafe('image/svg+xml')).toBe(false);
    expect(isInlineSafe('application/octet-stream')).toBe(false);
  });

  it('names the file as uploaded, quoted when plain ASCII', () => {
    expect(contentDisposition('image/png', 'cat.png')).toBe('inline; filename="cat.png"');
    expect(contentDisposition('text/html', 'page.html')).toBe('attachment; filename="page.html"');
    expect(contentDisposition('image/png', null)).toBe('inline');
    expect(contentDisposition('application/pdf', '')).toBe('attachment');
  });

  it('encodes other names as filename* in UTF-8 (RFC 6266 / 8187)', () => {
    expect(contentDisposition('image/png', 'chat été.png')).toBe(
      "inline; filename*=utf-8''chat%20%C3%A9t%C3%A9.png",
    );
    expect(contentDisposition('text/plain', 'a"b\\c')).toBe("inline; filename*=utf-8''a%22b%5Cc");
    expect(contentDisposition('text/plain', "it's (1)*.txt\r\n")).toBe(
      "inline; filename*=utf-8''it%27s%20%281%29%2A.txt%0D%0A",
    );
  });

  it('reads the file name of another server’s Content-Disposition', () => {
    expect(fileNameOfDisposition(undefined)).toBeNull();
    expect(fileNameOfDisposition('inline')).toBeNull();
    expect(fileNameOfDisposition('inline; filename="a \\"b\\".png"')).toBe('a "b".png');
    expect(fileNameOfDisposition('attachment; filename=plain.txt')).toBe('plain.txt');
    expect(fileNameOfDisposition('attachment; filename="x"; filename*=UTF-8\'\'%C3%A9.txt')).toBe(
      'é.txt',
    );
    expect(fileNameOfDisposition("attachment; filename*=utf-8''%E0%A4%A")).toBeNull();
    // Each name we serve reads back.
    for (const name of ['cat.png', 'résumé.pdf', 'a"b.txt']) {
      expect(fileNameOfDisposition(contentDisposition('image/png', name))).toBe(name);
    }
  });
});
