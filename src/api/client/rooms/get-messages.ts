import { z } from 'zod';
import { parseRoomEventFilter } from '../../../services/rooms/event-filter.js';
import { DEFAULT_MESSAGES_LIMIT } from '../../../services/rooms/room-timeline.js';
import { parseStreamToken } from '../../../services/rooms/stream-token.js';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { integerQuery, roomIdParam } from './room-params.js';

/**
 * `GET /rooms/{roomId}/messages`: a page of the timeline from `from` (default: the end for
 * `dir=b`, the start for `dir=f`), at most `limit` (default 10, at most 1000) events.
 */
export const getMessages = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/rooms/:roomId/messages'),
  auth: 'user',
  allowGuests: true,
  params: z.object({ roomId: roomIdParam }),
  query: z.object({
    dir: z.enum(['b', 'f']),
    from: z.string().optional(),
    to: z.string().optional(),
    limit: integerQuery.optional(),
    filter: z.string().optional(),
  }),
  handler: async (ctx, req) => {
    const { dir, from, to, limit, filter } = req.query;
    return ctx.services.roomTimeline.messages(req.auth, req.params.roomId, {
      dir,
      from: from === undefined || from === '' ? undefined : parseStreamToken(from, 'from'),
      to: to === undefined || to === '' ? undefined : parseStreamToken(to, 'to'),
      limit: limit ?? DEFAULT_MESSAGES_LIMIT,
      filter: parseRoomEventFilter(filter),
    });
  },
});
