import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { versionParams } from './room-keys-schemas.js';

/** `GET /room_keys/version/{version}`: a backup version with its key `count` and `etag`. */
export const getBackupVersion = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/room_keys/version/:version'),
  auth: 'user',
  params: versionParams,
  handler: async (ctx, req) =>
    ctx.services.keyBackup.getVersion(req.auth.userId, req.params.version),
});
