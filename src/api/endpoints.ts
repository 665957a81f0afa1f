import type { Endpoint } from './endpoint.js';
import { getVersions } from './client/get-versions.js';
import { getServerKeys } from './key/get-server-keys.js';
import { getClientWellKnown } from './well-known/get-client-well-known.js';
import { getServerWellKnown } from './well-known/get-server-well-known.js';

/** Every endpoint a tenant serves; the HTTP layer registers exactly these. */
export const tenantEndpoints: readonly Endpoint[] = [
  getVersions,
  getServerKeys,
  getClientWellKnown,
  getServerWellKnown,
];
