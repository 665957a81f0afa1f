import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';

/** `GET /room_keys/version`: the current (latest not deleted) backup version, else 404. */
export const getCurrentBackupVersion = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/room_keys/version'),
  auth: 'user',
  handler: async (ctx, req) => ctx.services.keyBackup.getVersion(req.auth.userId),
});
