import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { reasonBody, roomIdOrAliasParam, viaServers, viaServersQuery } from './room-params.js';

/**
 * `POST /knock/{roomIdOrAlias}`: asks to join a room whose join rule allows knocking (over
 * federation through the `via` / `server_name` servers for a room this server is not in).
 */
export const knockRoom = defineEndpoint({
  method: 'POST',
  paths: clientPaths('/knock/:roomIdOrAlias', { r0: false }),
  auth: 'user',
  params: z.object({ roomIdOrAlias: roomIdOrAliasParam }),
  query: viaServersQuery,
  body: reasonBody,
  handler: async (ctx, req) => ({
    room_id: await ctx.services.roomMembership.knock(
      req.auth.userId,
      req.params.roomIdOrAlias,
      req.body.reason,
      viaServers(req.query),
    ),
  }),
});
