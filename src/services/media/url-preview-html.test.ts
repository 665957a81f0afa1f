import { describe, expect, it } from 'vitest';
import { decodeHtml, openGraphOf } from './url-preview-html.js';

const PAGE = new URL('https://example.org/blog/post.html');

describe('openGraphOf', () => {
  it('reads the og meta tags, with the image made absolute', () => {
    const html = `<!doctype html><html><head>
      <meta charset="utf-8">
      <title>Ignored title</title>
      <meta property="og:title" content="Matrix Blog Post">
      <meta content='A really &amp; truly cool post' property='og:description' />
      <meta property="og:image" content="/img/cover.png">
      <meta property="og:site_name" content="Matrix.org">
      <!-- <meta property="og:type" content="hidden"> -->
      <script>var s = '<meta property="og:url" content="x">';</script>
      </head><body><meta property="og:locale" content="in the body"></body></html>`;
    expect(openGraphOf(html, PAGE)).toEqual({
      'og:title': 'Matrix Blog Post',
      'og:description': 'A really & truly cool post',
      'og:image': 'https://example.org/img/cover.png',
      'og:site_name': 'Matrix.org',
    });
  });

  it('falls back to <title> and the description meta tag', () => {
    const html = `<html><head><TITLE> Just a
      title &#8211; here </TITLE><meta name="description" content="Plain description"></head></html>`;
    expect(openGraphOf(html, PAGE)).toEqual({
      'og:title': 'Just a title – here',
      'og:description': 'Plain description',
    });
  });

  it('drops an image that is not an http(s) URL and cuts long descriptions', () => {
    const html = `<meta property="og:image" content="javascript:alert(1)">
      <meta property="og:description" content="${'x'.repeat(800)}">`;
    const og = openGraphOf(html, PAGE);
    expect(og['og:image']).toBeUndefined();
    expect(og['og:description']).toHaveLength(500);
  });

  it('gives nothing for a page without metadata', () => {
    expect(openGraphOf('<p>hello</p>', PAGE)).toEqual({});
  });
});

describe('decodeHtml', () => {
  it('uses the Content-Type charset, else the meta charset, else UTF-8', () => {
    const latin1 = Buffer.from('<title>caf\xe9</title>', 'latin1');
    expect(decodeHtml(latin1, 'iso-8859-1')).toBe('<title>café</title>');
    const sniffed = Buffer.concat([Buffer.from('<meta charset="windows-1252">'), latin1]);
    expect(decodeHtml(sniffed, undefined)).toContain('café');
    expect(decodeHtml(Buffer.from('<title>café</title>'), 'no-such-charset')).toBe(
      '<title>café</title>',
    );
  });
});
