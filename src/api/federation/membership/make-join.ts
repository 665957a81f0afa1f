import { defineEndpoint } from '../../endpoint.js';
import { membershipTemplateParams, supportedVersionsQuery } from './membership-params.js';

/**
 * `GET /_matrix/federation/v1/make_join/{roomId}/{userId}?ver=…`: a template of the user's
 * join event, for a room this server is in (404 otherwise; 400 M_INCOMPATIBLE_ROOM_VERSION when
 * the asking server does not support the room's version; 403 when the join is not allowed).
 */
export const makeJoin = defineEndpoint({
  method: 'GET',
  paths: ['/_matrix/federation/v1/make_join/:roomId/:userId'],
  auth: 'server',
  params: membershipTemplateParams,
  query: supportedVersionsQuery,
  handler: async (ctx, req) =>
    ctx.services.federation.membership.makeMembership(
      req.auth.origin,
      req.params.roomId,
      req.params.userId,
      'join',
      req.query.ver,
    ),
});
