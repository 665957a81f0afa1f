import { z } from 'zod';
import { integerQuery } from '../../client/rooms/room-params.js';
import { publicRoomsQueryBody } from '../../client/directory/query-public-rooms.js';
import { defineEndpoint } from '../../endpoint.js';

/** `GET /_matrix/federation/v1/publicRooms`: this server's published rooms, for another server. */
export const getFederationPublicRooms = defineEndpoint({
  method: 'GET',
  paths: ['/_matrix/federation/v1/publicRooms'],
  auth: 'server',
  query: z.object({
    limit: integerQuery.optional(),
    since: z.string().optional(),
    include_all_networks: z.string().optional(),
    third_party_instance_id: z.string().optional(),
  }),
  handler: async (ctx, req) =>
    ctx.services.roomDirectory.publicRooms({ limit: req.query.limit, since: req.query.since }),
});

/** `POST /_matrix/federation/v1/publicRooms`: the same, filtered. */
export const queryFederationPublicRooms = defineEndpoint({
  method: 'POST',
  paths: ['/_matrix/federation/v1/publicRooms'],
  auth: 'server',
  body: publicRoomsQueryBody,
  handler: async (ctx, req) =>
    ctx.services.roomDirectory.publicRooms({
      limit: req.body.limit,
      since: req.body.since,
      genericSearchTerm: req.body.filter?.generic_search_term,
      roomTypes: req.body.filter?.room_types,
    }),
});
