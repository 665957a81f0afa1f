import { describe, expect, it, vi } from 'vitest';
import { MatrixError } from '../../core/errors.js';
import { resolveSyncFilter, roomIncluded, typeIncluded } from './sync-filter.js';

const USER = '@alice:alpha.test';

describe('sync filters', () => {
  const stored = { room: { timeline: { limit: 5 } } };
  const filters = { get: vi.fn(async () => stored) };

  it('read inline JSON, stored IDs, and nothing', async () => {
    expect(await resolveSyncFilter(filters, USER, undefined)).toEqual({});
    expect(await resolveSyncFilter(filters, USER, '')).toEqual({});
    expect(await resolveSyncFilter(filters, USER, '{"room":{"include_leave":true}}')).toEqual({
      room: { include_leave: true },
    });
    expect(await resolveSyncFilter(filters, USER, 'abc123')).toBe(stored);
    expect(filters.get).toHaveBeenCalledWith(USER, 'abc123');
  });

  it.each([
    ['{"room":', 'M_BAD_JSON'],
    ['{"room":{"rooms":"!a:b"}}', 'M_INVALID_PARAM'],
    ['{"room":{"timeline":{"limit":-1}}}', 'M_INVALID_PARAM'],
  ])('reject %j with 400 %s', async (text, errcode) => {
    const error = await resolveSyncFilter(filters, USER, text).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MatrixError);
    expect(error).toMatchObject({ errcode, status: 400 });
  });

  it('keep rooms and types as the filter says', () => {
    expect(roomIncluded({}, '!a:x')).toBe(true);
    expect(roomIncluded({ room: { rooms: ['!a:x'] } }, '!a:x')).toBe(true);
    expect(roomIncluded({ room: { rooms: ['!a:x'] } }, '!b:x')).toBe(false);
    expect(roomIncluded({ room: { not_rooms: ['!a:x'] } }, '!a:x')).toBe(false);
    expect(typeIncluded(undefined, 'm.typing')).toBe(true);
    expect(typeIncluded({ types: ['m.*'] }, 'm.typing')).toBe(true);
    expect(typeIncluded({ not_types: ['m.typing'] }, 'm.typing')).toBe(false);
    expect(typeIncluded({ senders: [USER] }, 'm.presence', '@bob:x')).toBe(false);
  });
});
