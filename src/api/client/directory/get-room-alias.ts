import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { roomAliasParam } from '../rooms/room-params.js';

/** `GET /directory/room/{roomAlias}`: the room an alias points to (no token needed). */
export const getRoomAlias = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/directory/room/:roomAlias'),
  auth: 'none',
  params: z.object({ roomAlias: roomAliasParam }),
  handler: async (ctx, req) => ctx.services.roomAliases.resolve(req.params.roomAlias),
});
