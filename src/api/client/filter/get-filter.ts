import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { requireSelf, userIdParam } from '../user-params.js';

/** `GET /user/{userId}/filter/{filterId}`: a stored filter; 404 M_NOT_FOUND if unknown. */
export const getFilter = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/user/:userId/filter/:filterId'),
  auth: 'user',
  allowGuests: true,
  params: z.object({ userId: userIdParam, filterId: z.string() }),
  handler: async (ctx, req) => {
    requireSelf(req.auth, req.params.userId, 'Cannot get filters of other users');
    return ctx.services.filters.get(req.params.userId, req.params.filterId);
  },
});
