import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { roomAliasParam } from '../rooms/room-params.js';

/**
 * `DELETE /directory/room/{roomAlias}`: by its creator, a server admin, or a member who may
 * change the room's canonical alias. The room's `m.room.canonical_alias` is left as it is.
 */
export const deleteRoomAlias = defineEndpoint({
  method: 'DELETE',
  paths: clientPaths('/directory/room/:roomAlias'),
  auth: 'user',
  params: z.object({ roomAlias: roomAliasParam }),
  handler: async (ctx, req) => {
    await ctx.services.roomAliases.delete(req.auth.userId, req.params.roomAlias, req.auth.isAdmin);
    return {};
  },
});
