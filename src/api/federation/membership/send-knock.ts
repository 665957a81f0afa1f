import { defineEndpoint } from '../../endpoint.js';
import { pduBody, submittedEventParams } from './membership-params.js';

/**
 * `PUT /_matrix/federation/v1/send_knock/{roomId}/{eventId}`: accepts a knock event; answers
 * the room's stripped state (`knock_room_state`, as PDUs).
 */
export const sendKnock = defineEndpoint({
  method: 'PUT',
  paths: ['/_matrix/federation/v1/send_knock/:roomId/:eventId'],
  auth: 'server',
  params: submittedEventParams,
  body: pduBody,
  handler: async (ctx, req) =>
    ctx.services.federation.membership.sendKnock(
      req.auth.origin,
      req.params.roomId,
      req.params.eventId,
      req.body,
    ),
});
