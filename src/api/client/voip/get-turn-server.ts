import { createHmac } from 'node:crypto';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';

/**
 * `GET /voip/turnServer`: time-limited TURN credentials in the "TURN REST API" form coturn
 * checks with its `static-auth-secret` (username `expiry:user_id`, password
 * base64(HMAC-SHA1(secret, username))). Without TURN settings the answer is `{}`, as Synapse
 * gives: clients then call without a relay.
 */
/** How long TURN credentials last unless the tenant says otherwise: one day, as in Synapse. */
const DEFAULT_TURN_USER_LIFETIME_MS = 86_400_000;

export const getTurnServer = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/voip/turnServer'),
  auth: 'user',
  allowGuests: true,
  handler: async (ctx, req) => {
    const { turn_uris: uris = [], turn_shared_secret: secret } = ctx.config;
    if (uris.length === 0 || secret === undefined) return {};
    const lifetimeMs = ctx.config.turn_user_lifetime_ms ?? DEFAULT_TURN_USER_LIFETIME_MS;
    const expiry = Math.floor((ctx.clock.now() + lifetimeMs) / 1000);
    const username = `${expiry}:${req.auth.userId}`;
    const password = createHmac('sha1', secret).update(username).digest('base64');
    return { username, password, uris, ttl: Math.floor(lifetimeMs / 1000) };
  },
});
