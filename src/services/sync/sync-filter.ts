import { badJson, invalidParam } from '../../core/errors.js';
import type { RoomEvent } from '../../protocol/room-event.js';
import { filterSchema, type Filter } from '../filters/filter-schema.js';
import type { Filters } from '../filters/filters.js';
import { matchesRoomEventFilter, type RoomEventFilter } from '../rooms/event-filter.js';

/** The `filter` parameter of `/sync`: inline JSON when it starts with `{`, else a stored filter ID. */
export async function resolveSyncFilter(
  filters: Pick<Filters, 'get'>,
  userId: string,
  param: string | undefined,
): Promise<Filter> {
  if (param === undefined || param === '') return {};
  if (!param.trimStart().startsWith('{')) return filters.get(userId, param);
  let json: unknown;
  try {
    json = JSON.parse(param);
  } catch {
    throw badJson('filter is not valid JSON');
  }
  const result = filterSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    throw invalidParam(`filter is not a valid Filter${where}`);
  }
  return result.data;
}

/** Whether the filter's `room.rooms` / `room.not_rooms` keep a room. */
export function roomIncluded(filter: Filter, roomId: string): boolean {
  const rooms = filter.room?.rooms;
  if (rooms !== undefined && !rooms.includes(roomId)) return false;
  return !(filter.room?.not_rooms?.includes(roomId) ?? false);
}

/** Whether an `EventFilter` (account data, presence, ephemeral) keeps an event of `type`. */
export function typeIncluded(
  filter:
    | { types?: string[]; not_types?: string[]; senders?: string[]; not_senders?: string[] }
    | undefined,
  type: string,
  sender?: string,
): boolean {
  if (filter === undefined) return true;
  const event = { type, sender: sender ?? '', roomId: '', content: {} } as unknown as RoomEvent;
  return matchesRoomEventFilter(filter as RoomEventFilter, event);
}
