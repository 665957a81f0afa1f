import { describe, expect, it } from 'vitest';
import { endToEndHeaders, upstreamRequestHeaders } from './forwarded-headers.js';

function pairs(raw: string[]): [string, string][] {
  const result: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) result.push([raw[i]!, raw[i + 1]!]);
  return result;
}

describe('endToEndHeaders', () => {
  it('drops hop-by-hop headers and those the Connection header names', () => {
    const raw = [
      'Connection',
      'keep-alive, X-Hop',
      'X-Hop',
      '1',
      'Keep-Alive',
      'timeout=5',
      'Transfer-Encoding',
      'chunked',
      'TE',
      'trailers',
      'Trailer',
      'X-Sum',
      'Upgrade',
      'websocket',
      'Proxy-Authorization',
      'Basic eA==',
      'Proxy-Connection',
      'keep-alive',
      'Content-Type',
      'application/json',
      'Set-Cookie',
      'a=1',
      'Set-Cookie',
      'b=2',
    ];
    expect(pairs(endToEndHeaders(raw))).toEqual([
      ['Content-Type', 'application/json'],
      ['Set-Cookie', 'a=1'],
      ['Set-Cookie', 'b=2'],
    ]);
  });
});

describe('upstreamRequestHeaders', () => {
  const raw = [
    'Host',
    'router.internal:8008',
    'Authorization',
    'Bearer tok',
    'X-Forwarded-For',
    '203.0.113.9',
    'X-Forwarded-Proto',
    'https',
    'X-Forwarded-Host',
    'alpha.example',
    'X-Request-Id',
    'abc',
    'Expect',
    '100-continue',
    'Connection',
    'close',
  ];
  const facts = {
    host: 'alpha.example',
    originalHost: 'alpha.example',
    peerAddress: '10.0.0.2',
    requestId: 'r1',
  };

  it('extends the forwarding headers of a trusted proxy', () => {
    expect(pairs(upstreamRequestHeaders(raw, { ...facts, peerTrusted: true }))).toEqual([
      ['Authorization', 'Bearer tok'],
      ['Host', 'alpha.example'],
      ['X-Forwarded-For', '203.0.113.9, 10.0.0.2'],
      ['X-Forwarded-Proto', 'https'],
      ['X-Forwarded-Host', 'alpha.example'],
      ['X-Request-Id', 'r1'],
    ]);
  });

  it('replaces the forwarding headers of anyone else', () => {
    const headers = pairs(
      upstreamRequestHeaders(raw, {
        ...facts,
        host: 'router.internal:8008',
        originalHost: 'router.internal:8008',
        peerTrusted: false,
      }),
    );
    expect(headers).toEqual([
      ['Authorization', 'Bearer tok'],
      ['Host', 'router.internal:8008'],
      ['X-Forwarded-For', '10.0.0.2'],
      ['X-Forwarded-Proto', 'http'],
      ['X-Forwarded-Host', 'router.internal:8008'],
      ['X-Request-Id', 'r1'],
    ]);
  });

  it('joins repeated forwarding headers of a trusted proxy', () => {
    const repeated = ['X-Forwarded-For', '1.1.1.1', 'X-Forwarded-For', '2.2.2.2'];
    const headers = pairs(upstreamRequestHeaders(repeated, { ...facts, peerTrusted: true }));
    expect(headers).toContainEqual(['X-Forwarded-For', '1.1.1.1, 2.2.2.2, 10.0.0.2']);
  });

  it('sends no X-Forwarded-Host when the client sent no host', () => {
    const headers = pairs(
      upstreamRequestHeaders([], { ...facts, originalHost: undefined, peerTrusted: false }),
    );
    expect(headers.map(([name]) => name)).not.toContain('X-Forwarded-Host');
  });
});
