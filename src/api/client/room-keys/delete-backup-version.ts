import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { versionParams } from './room-keys-schemas.js';

/** `DELETE /room_keys/version/{version}`: the version and all its keys; again is a no-op. */
export const deleteBackupVersion = defineEndpoint({
  method: 'DELETE',
  paths: clientPaths('/room_keys/version/:version'),
  auth: 'user',
  params: versionParams,
  handler: async (ctx, req) => {
    await ctx.services.keyBackup.deleteVersion(req.auth.userId, req.params.version);
    return {};
  },
});
