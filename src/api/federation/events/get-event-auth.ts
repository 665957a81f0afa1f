import { defineEndpoint } from '../../endpoint.js';
import { roomEventParams } from './event-params.js';

/** `GET /_matrix/federation/v1/event_auth/{roomId}/{eventId}`: an event's full auth chain. */
export const getEventAuth = defineEndpoint({
  method: 'GET',
  paths: ['/_matrix/federation/v1/event_auth/:roomId/:eventId'],
  auth: 'server',
  params: roomEventParams,
  handler: async (ctx, req) =>
    ctx.services.federation.inbound.reads.eventAuth(
      req.auth.origin,
      req.params.roomId,
      req.params.eventId,
    ),
});
