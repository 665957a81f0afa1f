import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { roomAliasParam, roomIdParam } from '../rooms/room-params.js';

/** `PUT /directory/room/{roomAlias}`: maps an alias of this server to a room (409 if taken). */
export const setRoomAlias = defineEndpoint({
  method: 'PUT',
  paths: clientPaths('/directory/room/:roomAlias'),
  auth: 'user',
  params: z.object({ roomAlias: roomAliasParam }),
  body: z.object({ room_id: roomIdParam }),
  handler: async (ctx, req) => {
    await ctx.services.roomAliases.create(
      req.auth.userId,
      req.params.roomAlias,
      req.body.room_id,
      req.auth.isAdmin,
    );
    return {};
  },
});
