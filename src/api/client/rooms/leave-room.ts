import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { reasonBody, roomIdParam } from './room-params.js';

/** `POST /rooms/{roomId}/leave`: leaves, rejects an invite or rescinds a knock. */
export const leaveRoom = defineEndpoint({
  method: 'POST',
  paths: clientPaths('/rooms/:roomId/leave'),
  auth: 'user',
  allowGuests: true,
  params: z.object({ roomId: roomIdParam }),
  body: reasonBody,
  handler: async (ctx, req) => {
    await ctx.services.roomMembership.leave(req.auth.userId, req.params.roomId, req.body.reason);
    return {};
  },
});
