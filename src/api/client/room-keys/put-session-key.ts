import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { keyBackupData, sessionParams, versionQuery } from './room-keys-schemas.js';

/** `PUT /room_keys/keys/{roomId}/{sessionId}?version=`: stores one key in the current version. */
export const putSessionKey = defineEndpoint({
  method: 'PUT',
  paths: clientPaths('/room_keys/keys/:roomId/:sessionId'),
  auth: 'user',
  params: sessionParams,
  query: versionQuery,
  body: keyBackupData,
  handler: async (ctx, req) =>
    ctx.services.keyBackup.putKeys(req.auth.userId, req.query.version, {
      [req.params.roomId]: { [req.params.sessionId]: req.body },
    }),
});
