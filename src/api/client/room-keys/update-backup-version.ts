import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { backupVersionBody, versionParams } from './room-keys-schemas.js';

/**
 * `PUT /room_keys/version/{version}`: replaces the version's `auth_data`. The algorithm, and the
 * `version` if the body gives one, must match (400 M_INVALID_PARAM).
 */
export const updateBackupVersion = defineEndpoint({
  method: 'PUT',
  paths: clientPaths('/room_keys/version/:version'),
  auth: 'user',
  params: versionParams,
  body: backupVersionBody.extend({ version: z.string().optional() }),
  handler: async (ctx, req) => {
    await ctx.services.keyBackup.updateVersion(req.auth.userId, req.params.version, {
      algorithm: req.body.algorithm,
      authData: req.body.auth_data,
      version: req.body.version,
    });
    return {};
  },
});
