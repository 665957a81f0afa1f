import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { roomIdParam } from '../rooms/room-params.js';

/**
 * `PUT /directory/list/room/{roomId}`: publishes (default) or unpublishes the room; for server
 * admins and members who may change the room's canonical alias.
 */
export const setRoomVisibility = defineEndpoint({
  method: 'PUT',
  paths: clientPaths('/directory/list/room/:roomId'),
  auth: 'user',
  params: z.object({ roomId: roomIdParam }),
  body: z.object({ visibility: z.enum(['public', 'private']).default('public') }),
  handler: async (ctx, req) => {
    await ctx.services.roomDirectory.setVisibility(
      req.auth.userId,
      req.params.roomId,
      req.body.visibility,
      req.auth.isAdmin,
    );
    return {};
  },
});
