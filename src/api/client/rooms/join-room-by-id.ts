import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { roomIdParam } from './room-params.js';

/**
 * `POST /rooms/{roomId}/join`. Guests may join rooms whose `m.room.guest_access` is
 * `can_join`. Third-party signed joins are not supported (`third_party_signed` is ignored).
 */
export const joinRoomById = defineEndpoint({
  method: 'POST',
  paths: clientPaths('/rooms/:roomId/join'),
  auth: 'user',
  allowGuests: true,
  params: z.object({ roomId: roomIdParam }),
  body: z.object({ reason: z.string().optional() }),
  handler: async (ctx, req) => ({
    room_id: await ctx.services.roomMembership.join(req.auth.userId, req.params.roomId, {
      reason: req.body.reason,
      isGuest: req.auth.isGuest,
    }),
  }),
});
