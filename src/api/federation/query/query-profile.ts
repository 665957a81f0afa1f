import { z } from 'zod';
import { notFound } from '../../../core/errors.js';
import { parseUserId } from '../../../core/identifiers.js';
import { userIdField } from '../../client/rooms/room-params.js';
import { defineEndpoint } from '../../endpoint.js';

/**
 * `GET /_matrix/federation/v1/query/profile?user_id=&field=`: a local user's profile, or one
 * field of it. 404 M_NOT_FOUND for users of other servers and unknown ones.
 */
export const queryProfile = defineEndpoint({
  method: 'GET',
  paths: ['/_matrix/federation/v1/query/profile'],
  auth: 'server',
  query: z.object({
    user_id: userIdField,
    field: z.enum(['displayname', 'avatar_url']).optional(),
  }),
  handler: async (ctx, req) => {
    if (parseUserId(req.query.user_id).serverName !== ctx.serverName) {
      throw notFound(`${req.query.user_id} is not a user of this server`);
    }
    const profile = await ctx.services.profiles.get(req.query.user_id);
    const field = req.query.field;
    if (field === undefined) return profile;
    return profile[field] === undefined ? {} : { [field]: profile[field] };
  },
});
