import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { roomIdParam } from './room-params.js';

/** `POST /rooms/{roomId}/upgrade`: replaces the room with a new one of another room version. */
export const upgradeRoom = defineEndpoint({
  method: 'POST',
  paths: clientPaths('/rooms/:roomId/upgrade'),
  auth: 'user',
  params: z.object({ roomId: roomIdParam }),
  body: z.object({
    new_version: z.string(),
    additional_creators: z.array(z.string()).optional(),
  }),
  handler: async (ctx, req) => ({
    replacement_room: await ctx.services.roomUpgrade.upgrade(req.auth.userId, req.params.roomId, {
      newVersion: req.body.new_version,
      ...(req.body.additional_creators === undefined
        ? {}
        : { additionalCreators: req.body.additional_creators }),
    }),
  }),
});
