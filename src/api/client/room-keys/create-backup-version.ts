import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { backupVersionBody } from './room-keys-schemas.js';

/** `POST /room_keys/version`: creates a backup version, which becomes the current one. */
export const createBackupVersion = defineEndpoint({
  method: 'POST',
  paths: clientPaths('/room_keys/version'),
  auth: 'user',
  body: backupVersionBody,
  handler: async (ctx, req) => ({
    version: await ctx.services.keyBackup.createVersion(
      req.auth.userId,
      req.body.algorithm,
      req.body.auth_data,
    ),
  }),
});
