import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { sessionParams, versionQuery } from './room-keys-schemas.js';

/** `DELETE /room_keys/keys/{roomId}/{sessionId}?version=`: one key. */
export const deleteSessionKey = defineEndpoint({
  method: 'DELETE',
  paths: clientPaths('/room_keys/keys/:roomId/:sessionId'),
  auth: 'user',
  params: sessionParams,
  query: versionQuery,
  handler: async (ctx, req) =>
    ctx.services.keyBackup.deleteKeys(req.auth.userId, req.query.version, {
      roomId: req.params.roomId,
      sessionId: req.params.sessionId,
    }),
});
