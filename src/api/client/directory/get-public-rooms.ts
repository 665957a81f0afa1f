import { z } from 'zod';
import { remotePublicRooms } from '../../../services/federation/remote-directory.js';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { integerQuery } from '../rooms/room-params.js';

/** `GET /publicRooms`: this server's published rooms, or (`server`) another server's. */
export const getPublicRooms = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/publicRooms'),
  auth: 'none',
  query: z.object({
    limit: integerQuery.optional(),
    since: z.string().optional(),
    server: z.string().optional(),
  }),
  handler: async (ctx, req) =>
    req.query.server !== undefined && req.query.server !== ctx.serverName
      ? remotePublicRooms(ctx.services.federation.client, req.query.server, req.query)
      : ctx.services.roomDirectory.publicRooms(req.query),
});
