import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { roomIdParam } from './room-params.js';

/** `POST /rooms/{roomId}/forget`: stops serving the room's history to a user who left it. */
export const forgetRoom = defineEndpoint({
  method: 'POST',
  paths: clientPaths('/rooms/:roomId/forget'),
  auth: 'user',
  params: z.object({ roomId: roomIdParam }),
  handler: async (ctx, req) => {
    await ctx.services.roomMembership.forget(req.auth.userId, req.params.roomId);
    return {};
  },
});
