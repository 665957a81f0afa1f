import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { parseStreamToken } from '../../../services/rooms/stream-token.js';
import { clientPaths } from '../paths.js';
import { roomIdParam } from './room-params.js';

const membership = z.enum(['join', 'invite', 'knock', 'leave', 'ban']);

/** `GET /rooms/{roomId}/members`: member events, at a point of the timeline (`at`) if asked. */
export const getMembers = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/rooms/:roomId/members'),
  auth: 'user',
  allowGuests: true,
  params: z.object({ roomId: roomIdParam }),
  query: z.object({
    at: z.string().optional(),
    membership: membership.optional(),
    not_membership: membership.optional(),
  }),
  handler: async (ctx, req) => {
    const { at, membership, not_membership } = req.query;
    const chunk = await ctx.services.roomState.members(req.auth, req.params.roomId, {
      at: at === undefined ? undefined : parseStreamToken(at, 'at'),
      membership,
      notMembership: not_membership,
    });
    return { chunk };
  },
});
