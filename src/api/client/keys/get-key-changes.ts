import { z } from 'zod';
import { keyChanges } from '../../../services/e2ee/key-changes.js';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';

/**
 * `GET /keys/changes?from&to`: users sharing a room with the caller whose devices or keys changed
 * between two sync tokens, and users who no longer share a room. See docs/e2ee.md.
 */
export const getKeyChanges = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/keys/changes'),
  auth: 'user',
  query: z.object({ from: z.string(), to: z.string() }),
  handler: async (ctx, req) =>
    keyChanges(
      { db: ctx.db, roomGraph: ctx.services.roomGraph },
      req.auth.userId,
      req.query.from,
      req.query.to,
    ),
});
