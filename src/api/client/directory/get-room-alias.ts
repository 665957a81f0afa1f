import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { roomAliasParam } from '../rooms/room-params.js';

/**
 * `GET /directory/room/{roomAlias}`: the room an alias points to (no token needed); another
 * server's alias is asked of that server.
 */
export const getRoomAlias = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/directory/room/:roomAlias'),
  auth: 'none',
  params: z.object({ roomAlias: roomAliasParam }),
  handler: async (ctx, req) => {
    const alias = req.params.roomAlias;
    if (ctx.services.roomAliases.isLocal(alias)) return ctx.services.roomAliases.resolve(alias);
    const { roomId, servers } = await ctx.services.federation.membership.resolveRemoteAlias(alias);
    return { room_id: roomId, servers };
  },
});
