import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { roomIdParam } from '../rooms/room-params.js';

/** `GET /directory/list/room/{roomId}`: whether the room is in the published directory. */
export const getRoomVisibility = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/directory/list/room/:roomId'),
  auth: 'none',
  params: z.object({ roomId: roomIdParam }),
  handler: async (ctx, req) => ({
    visibility: await ctx.services.roomDirectory.visibility(req.params.roomId),
  }),
});
