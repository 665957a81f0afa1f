import { z } from 'zod';
import { PRESENCE_STATES } from '../../../services/ephemeral/presence.js';
import { Sync } from '../../../services/sync/sync.js';
import { resolveSyncFilter } from '../../../services/sync/sync-filter.js';
import { decodeSyncToken } from '../../../services/sync/sync-token.js';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { integerQuery } from '../rooms/room-params.js';

/**
 * `GET /sync`: everything since `since` (everything at all without it), long-polling up to
 * `timeout` ms when nothing changed. See docs/sync.md.
 */
export const sync = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/sync'),
  auth: 'user',
  allowGuests: true,
  query: z.object({
    since: z.string().optional(),
    filter: z.string().optional(),
    full_state: z.enum(['true', 'false']).optional(),
    timeout: integerQuery.optional(),
    set_presence: z.enum(PRESENCE_STATES).optional(),
  }),
  handler: async (ctx, req) => {
    const { since, filter, full_state, timeout, set_presence } = req.query;
    const s = ctx.services;
    const service = new Sync({ db: ctx.db, ...s });
    return service.sync(req.auth, {
      since: since === undefined || since === '' ? undefined : decodeSyncToken(since),
      filter: await resolveSyncFilter(s.filters, req.auth.userId, filter),
      fullState: full_state === 'true',
      timeoutMs: Math.max(0, timeout ?? 0),
      setPresence: set_presence,
      signal: req.signal,
    });
  },
});
