import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { eventIdParam } from './event-params.js';

/** `GET /_matrix/federation/v1/event/{eventId}`: one event, as a transaction of one PDU. */
export const getFederationEvent = defineEndpoint({
  method: 'GET',
  paths: ['/_matrix/federation/v1/event/:eventId'],
  auth: 'server',
  params: z.object({ eventId: eventIdParam }),
  handler: async (ctx, req) =>
    ctx.services.federation.inbound.reads.event(req.auth.origin, req.params.eventId),
});
