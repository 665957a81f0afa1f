import { describe, expect, it } from 'vitest';
import { firstListEntry, requestHost } from './request-host.js';

describe('requestHost', () => {
  it('takes Host, lower-cased, without its port, keeping the header as received', () => {
    expect(requestHost({ host: 'Alpha.LocalHost:8008' }, false)).toEqual({
      header: 'Alpha.LocalHost:8008',
      hostname: 'alpha.localhost',
      forwarded: false,
    });
    expect(requestHost({ host: 'beta.test' }, false).hostname).toBe('beta.test');
  });

  it('keeps IPv6 literals whole, with or without a port', () => {
    expect(requestHost({ host: '[::1]:8008' }, false).hostname).toBe('[::1]');
    expect(requestHost({ host: '[FD00::AB]' }, false).hostname).toBe('[fd00::ab]');
    expect(requestHost({ host: '[::1' }, false).hostname).toBeUndefined();
  });

  it('has no host name for a missing or empty Host', () => {
    expect(requestHost({}, false)).toEqual({
      header: undefined,
      hostname: undefined,
      forwarded: false,
    });
    expect(requestHost({ host: '  ' }, false).hostname).toBeUndefined();
    expect(requestHost({ host: ':8008' }, false).hostname).toBeUndefined();
  });

  it('believes X-Forwarded-Host only from a trusted proxy', () => {
    const headers = { host: 'router.internal:8008', 'x-forwarded-host': 'Alpha.Example:443' };
    expect(requestHost(headers, false)).toMatchObject({
      hostname: 'router.internal',
      forwarded: false,
    });
    expect(requestHost(headers, true)).toEqual({
      header: 'Alpha.Example:443',
      hostname: 'alpha.example',
      forwarded: true,
    });
  });

  it('takes the first host of a forwarded list, and Host when the list is empty', () => {
    expect(requestHost({ host: 'h', 'x-forwarded-host': 'a.test, b.test' }, true).hostname).toBe(
      'a.test',
    );
    expect(requestHost({ host: 'h.test', 'x-forwarded-host': ' ' }, true)).toMatchObject({
      hostname: 'h.test',
      forwarded: false,
    });
  });
});

describe('firstListEntry', () => {
  it('reads strings and arrays', () => {
    expect(firstListEntry(' a , b')).toBe('a');
    expect(firstListEntry(['x, y', 'z'])).toBe('x');
    expect(firstListEntry(undefined)).toBeUndefined();
    expect(firstListEntry(',')).toBeUndefined();
  });
});
