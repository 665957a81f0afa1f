import { z } from 'zod';
import { roomAliasParam } from '../../client/rooms/room-params.js';
import { defineEndpoint } from '../../endpoint.js';

/** `GET /_matrix/federation/v1/query/directory?room_alias=`: a local alias's room and servers. */
export const queryDirectory = defineEndpoint({
  method: 'GET',
  paths: ['/_matrix/federation/v1/query/directory'],
  auth: 'server',
  query: z.object({ room_alias: roomAliasParam }),
  handler: async (ctx, req) => ctx.services.roomAliases.resolve(req.query.room_alias),
});
