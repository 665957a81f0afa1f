import { describe, expect, it } from 'vitest';
import { isLongPoll } from './long-poll.js';

describe('isLongPoll', () => {
  it('is a GET /sync with a timeout above zero, on any client API version', () => {
    expect(isLongPoll('GET', '/_matrix/client/v3/sync?since=s1&timeout=30000')).toBe(true);
    expect(isLongPoll('GET', '/_matrix/client/r0/sync?timeout=1')).toBe(true);
  });

  it('is not a sync that returns at once, another method or another path', () => {
    expect(isLongPoll('GET', '/_matrix/client/v3/sync')).toBe(false);
    expect(isLongPoll('GET', '/_matrix/client/v3/sync?timeout=0')).toBe(false);
    expect(isLongPoll('GET', '/_matrix/client/v3/sync?timeout=soon')).toBe(false);
    expect(isLongPoll('POST', '/_matrix/client/v3/sync?timeout=30000')).toBe(false);
    expect(isLongPoll('GET', '/_matrix/client/v3/rooms/x/sync?timeout=30000')).toBe(false);
    expect(isLongPoll('GET', '/_matrix/client/v3/messages?timeout=30000')).toBe(false);
  });
});
