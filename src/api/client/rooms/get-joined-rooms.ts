import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';

/** `GET /joined_rooms`: the rooms the caller is joined to. */
export const getJoinedRooms = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/joined_rooms'),
  auth: 'user',
  handler: async (ctx, req) => ({
    joined_rooms: await ctx.services.roomMembership.joinedRooms(req.auth.userId),
  }),
});
