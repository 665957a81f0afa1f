import { readFileSync } from 'node:fs';
import { defineEndpoint } from '../../endpoint.js';

/** The version of the running code, from the package.json beside the sources (read once). */
const MARINA_VERSION = (
  JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

/** `GET /_matrix/federation/v1/version`: this server's implementation name and version. */
export const getServerVersion = defineEndpoint({
  method: 'GET',
  paths: ['/_matrix/federation/v1/version'],
  auth: 'none',
  handler: async () => ({ server: { name: 'Marina', version: MARINA_VERSION } }),
});
