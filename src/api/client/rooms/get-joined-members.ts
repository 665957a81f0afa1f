import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { roomIdParam } from './room-params.js';

/** `GET /rooms/{roomId}/joined_members`: joined users with their room displayname and avatar. */
export const getJoinedMembers = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/rooms/:roomId/joined_members'),
  auth: 'user',
  params: z.object({ roomId: roomIdParam }),
  handler: async (ctx, req) => ({
    joined: await ctx.services.roomState.joinedMembers(req.auth.userId, req.params.roomId),
  }),
});
