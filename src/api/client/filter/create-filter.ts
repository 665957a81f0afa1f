import { z } from 'zod';
import { filterSchema } from '../../../services/filters/filter-schema.js';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { requireSelf, userIdParam } from '../user-params.js';

/** `POST /user/{userId}/filter`: stores a filter (checked against the spec's shape). */
export const createFilter = defineEndpoint({
  method: 'POST',
  paths: clientPaths('/user/:userId/filter'),
  auth: 'user',
  allowGuests: true,
  params: z.object({ userId: userIdParam }),
  body: filterSchema,
  handler: async (ctx, req) => {
    requireSelf(req.auth, req.params.userId, 'Cannot create filters for other users');
    return { filter_id: await ctx.services.filters.create(req.params.userId, req.body) };
  },
});
