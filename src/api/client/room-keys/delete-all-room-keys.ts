import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { versionQuery } from './room-keys-schemas.js';

/** `DELETE /room_keys/keys?version=`: every key of a version (the version stays). */
export const deleteAllRoomKeys = defineEndpoint({
  method: 'DELETE',
  paths: clientPaths('/room_keys/keys'),
  auth: 'user',
  query: versionQuery,
  handler: async (ctx, req) =>
    ctx.services.keyBackup.deleteKeys(req.auth.userId, req.query.version),
});
