import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { roomIdOrAliasParam } from './room-params.js';

/**
 * `POST /join/{roomIdOrAlias}`: joins by room ID or alias. `via` / `server_name` would name
 * servers to join through; rooms this server does not have need federation (404).
 */
export const joinRoom = defineEndpoint({
  method: 'POST',
  paths: clientPaths('/join/:roomIdOrAlias'),
  auth: 'user',
  params: z.object({ roomIdOrAlias: roomIdOrAliasParam }),
  body: z.object({ reason: z.string().optional() }),
  handler: async (ctx, req) => ({
    room_id: await ctx.services.roomMembership.join(req.auth.userId, req.params.roomIdOrAlias, {
      reason: req.body.reason,
      isGuest: req.auth.isGuest,
    }),
  }),
});
