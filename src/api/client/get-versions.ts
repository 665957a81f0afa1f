import { defineEndpoint } from '../endpoint.js';

/**
 * Spec versions whose mandatory client-server endpoints this server serves in full. The
 * client-server core (accounts, rooms, sync) is not built yet, so none is claimed: a client
 * that reads this list learns the truth instead of failing later.
 */
export const SUPPORTED_CLIENT_SPEC_VERSIONS: readonly string[] = [];

/** `GET /_matrix/client/versions` */
export const getVersions = defineEndpoint({
  method: 'GET',
  paths: ['/_matrix/client/versions'],
  auth: 'none',
  handler: async () => ({ versions: [...SUPPORTED_CLIENT_SPEC_VERSIONS], unstable_features: {} }),
});
