import { z } from 'zod';
import { remotePublicRooms } from '../../../services/federation/remote-directory.js';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';

/** The body of `POST /publicRooms`, in the client API and over federation alike. */
export const publicRoomsQueryBody = z.object({
  limit: z.number().int().optional(),
  since: z.string().optional(),
  filter: z
    .object({
      generic_search_term: z.string().optional(),
      room_types: z.array(z.string().nullable()).optional(),
    })
    .optional(),
  include_all_networks: z.boolean().optional(),
  third_party_instance_id: z.string().optional(),
});

/** `POST /publicRooms`: the published rooms, filtered by a search term and room types. */
export const queryPublicRooms = defineEndpoint({
  method: 'POST',
  paths: clientPaths('/publicRooms'),
  auth: 'user',
  query: z.object({ server: z.string().optional() }),
  body: publicRoomsQueryBody,
  handler: async (ctx, req) => {
    const request = {
      limit: req.body.limit,
      since: req.body.since,
      server: req.query.server,
      genericSearchTerm: req.body.filter?.generic_search_term,
      roomTypes: req.body.filter?.room_types,
    };
    return request.server !== undefined && request.server !== ctx.serverName
      ? remotePublicRooms(ctx.services.federation.client, request.server, request)
      : ctx.services.roomDirectory.publicRooms(request);
  },
});
