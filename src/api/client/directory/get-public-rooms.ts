import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { integerQuery } from '../rooms/room-params.js';

/** `GET /publicRooms`: this server's published rooms (other servers' need federation). */
export const getPublicRooms = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/publicRooms'),
  auth: 'none',
  query: z.object({
    limit: integerQuery.optional(),
    since: z.string().optional(),
    server: z.string().optional(),
  }),
  handler: async (ctx, req) => ctx.services.roomDirectory.publicRooms(req.query),
});
