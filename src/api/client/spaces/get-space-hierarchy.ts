import { z } from 'zod';
import { invalidParam } from '../../../core/errors.js';
import { integerQuery, roomIdParam } from '../rooms/room-params.js';
import { defineEndpoint } from '../../endpoint.js';
import { clientV1Paths } from '../paths.js';

/**
 * `GET /_matrix/client/v1/rooms/{roomId}/hierarchy`: the space tree under a room, depth first,
 * the rooms the caller may see (see `SpaceHierarchy.forUser`). `limit` must be above 0 and
 * `max_depth` not negative (400 M_INVALID_PARAM); both are capped.
 */
export const getSpaceHierarchy = defineEndpoint({
  method: 'GET',
  paths: clientV1Paths('/rooms/:roomId/hierarchy'),
  auth: 'user',
  params: z.object({ roomId: roomIdParam }),
  query: z.object({
    suggested_only: z.enum(['true', 'false']).optional(),
    limit: integerQuery.optional(),
    max_depth: integerQuery.optional(),
    from: z.string().optional(),
  }),
  handler: async (ctx, req) => {
    const { limit, max_depth: maxDepth, from } = req.query;
    if (limit !== undefined && limit <= 0) throw invalidParam('limit must be greater than 0');
    if (maxDepth !== undefined && maxDepth < 0)
      throw invalidParam('max_depth must not be negative');
    return ctx.services.federation.hierarchy.forUser(req.auth.userId, req.params.roomId, {
      suggestedOnly: req.query.suggested_only === 'true',
      ...(limit === undefined ? {} : { limit }),
      ...(maxDepth === undefined ? {} : { maxDepth }),
      ...(from === undefined ? {} : { from }),
    });
  },
});
