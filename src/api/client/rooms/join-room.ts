import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { roomIdOrAliasParam, viaServers, viaServersQuery } from './room-params.js';

/**
 * `POST /join/{roomIdOrAlias}`: joins by room ID or alias. A room this server is not in is
 * joined over federation through the `via` / `server_name` servers (and the alias's server).
 */
export const joinRoom = defineEndpoint({
  method: 'POST',
  paths: clientPaths('/join/:roomIdOrAlias'),
  auth: 'user',
  params: z.object({ roomIdOrAlias: roomIdOrAliasParam }),
  query: viaServersQuery,
  body: z.object({ reason: z.string().optional() }),
  handler: async (ctx, req) => ({
    room_id: await ctx.services.roomMembership.join(req.auth.userId, req.params.roomIdOrAlias, {
      reason: req.body.reason,
      isGuest: req.auth.isGuest,
      servers: viaServers(req.query),
    }),
  }),
});
