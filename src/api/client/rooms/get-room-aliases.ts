import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { roomIdParam } from './room-params.js';

/** `GET /rooms/{roomId}/aliases`: this server's aliases of the room (members only, unless world readable). */
export const getRoomAliases = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/rooms/:roomId/aliases'),
  auth: 'user',
  params: z.object({ roomId: roomIdParam }),
  handler: async (ctx, req) => ({
    aliases: await ctx.services.roomAliases.list(req.auth.userId, req.params.roomId),
  }),
});
