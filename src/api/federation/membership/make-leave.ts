import { defineEndpoint } from '../../endpoint.js';
import { membershipTemplateParams } from './membership-params.js';

/**
 * `GET /_matrix/federation/v1/make_leave/{roomId}/{userId}`: a template of the user's leave
 * event, for a room this server is in (404 otherwise; 403 when the user cannot leave).
 */
export const makeLeave = defineEndpoint({
  method: 'GET',
  paths: ['/_matrix/federation/v1/make_leave/:roomId/:userId'],
  auth: 'server',
  params: membershipTemplateParams,
  handler: async (ctx, req) =>
    ctx.services.federation.membership.makeMembership(
      req.auth.origin,
      req.params.roomId,
      req.params.userId,
      'leave',
    ),
});
