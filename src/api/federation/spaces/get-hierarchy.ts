import { z } from 'zod';
import { roomIdParam } from '../../client/rooms/room-params.js';
import { defineEndpoint } from '../../endpoint.js';

/**
 * `GET /_matrix/federation/v1/hierarchy/{roomId}?suggested_only=`: the room and its children
 * known here, as the origin may peek or join them (see `SpaceHierarchy.forServer`).
 */
export const getFederationHierarchy = defineEndpoint({
  method: 'GET',
  paths: ['/_matrix/federation/v1/hierarchy/:roomId'],
  auth: 'server',
  params: z.object({ roomId: roomIdParam }),
  query: z.object({ suggested_only: z.enum(['true', 'false']).optional() }),
  handler: async (ctx, req) =>
    ctx.services.federation.hierarchy.forServer(
      req.auth.origin,
      req.params.roomId,
      req.query.suggested_only === 'true',
    ),
});
