import { defineEndpoint } from '../../endpoint.js';
import { atEventQuery, roomParams } from './event-params.js';

/** `GET /_matrix/federation/v1/state_ids/{roomId}?event_id=`: the state before an event, as IDs. */
export const getStateIds = defineEndpoint({
  method: 'GET',
  paths: ['/_matrix/federation/v1/state_ids/:roomId'],
  auth: 'server',
  params: roomParams,
  query: atEventQuery,
  handler: async (ctx, req) =>
    ctx.services.federation.inbound.reads.stateIds(
      req.auth.origin,
      req.params.roomId,
      req.query.event_id,
    ),
});
