import type { z } from 'zod';
import { invalidParam } from '../../core/errors.js';
import type { RoomEvent } from '../../protocol/room-event.js';
import { roomEventFilterSchema } from '../filters/filter-schema.js';

export type RoomEventFilter = z.infer<typeof roomEventFilterSchema>;

/** Reads the `filter` query parameter of `/messages` and `/context`: a JSON `RoomEventFilter`. */
export function parseRoomEventFilter(text: string | undefined): RoomEventFilter {
  if (text === undefined || text === '') return {};
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw invalidParam('filter is not valid JSON');
  }
  const result = roomEventFilterSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    throw invalidParam(`filter is not a valid RoomEventFilter${where}`);
  }
  return result.data;
}

/** Whether a filter keeps an event (types and senders, `*` matching any characters; rooms; URLs). */
export function matchesRoomEventFilter(filter: RoomEventFilter, event: RoomEvent): boolean {
  if (filter.rooms !== undefined && !filter.rooms.includes(event.roomId)) return false;
  if (filter.not_rooms?.includes(event.roomId)) return false;
  if (filter.senders !== undefined && !filter.senders.includes(event.sender)) return false;
  if (filter.not_senders?.includes(event.sender)) return false;
  if (filter.types !== undefined && !filter.types.some((type) => typeMatches(type, event.type))) {
    return false;
  }
  if (filter.not_types?.some((type) => typeMatches(type, event.type))) return false;
  if (filter.contains_url !== undefined) {
    const hasUrl = typeof event.content.url === 'string';
    if (hasUrl !== filter.contains_url) return false;
  }
  return true;
}

/** Event type patterns: `*` matches any sequence of characters (spec: "Filtering"). */
function typeMatches(pattern: string, type: string): boolean {
  if (!pattern.includes('*')) return pattern === type;
  const parts = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.*')}$`, 's').test(type);
}
