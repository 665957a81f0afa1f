import { defineEndpoint } from '../../endpoint.js';
import { pduBody, submittedEventParams } from './membership-params.js';

/**
 * `PUT /_matrix/federation/v2/send_join/{roomId}/{eventId}`: accepts a join event built from a
 * make_join template; answers the room's state before it and the auth chain (all members:
 * `omit_members` is not honoured), and the event (co-signed for a restricted join).
 */
export const sendJoin = defineEndpoint({
  method: 'PUT',
  paths: ['/_matrix/federation/v2/send_join/:roomId/:eventId'],
  auth: 'server',
  params: submittedEventParams,
  body: pduBody,
  handler: async (ctx, req) =>
    ctx.services.federation.membership.sendJoin(
      req.auth.origin,
      req.params.roomId,
      req.params.eventId,
      req.body,
    ),
});
