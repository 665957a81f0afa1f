import { defineEndpoint } from '../../endpoint.js';
import { pduBody, submittedEventParams } from './membership-params.js';

/** `PUT /_matrix/federation/v2/send_leave/{roomId}/{eventId}`: accepts a leave event; `{}`. */
export const sendLeave = defineEndpoint({
  method: 'PUT',
  paths: ['/_matrix/federation/v2/send_leave/:roomId/:eventId'],
  auth: 'server',
  params: submittedEventParams,
  body: pduBody,
  handler: async (ctx, req) => {
    await ctx.services.federation.membership.sendMembership(
      req.auth.origin,
      req.params.roomId,
      req.params.eventId,
      req.body,
      'leave',
    );
    return {};
  },
});
