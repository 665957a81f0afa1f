import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { sessionParams, versionQuery } from './room-keys-schemas.js';

/** `GET /room_keys/keys/{roomId}/{sessionId}?version=`: one key; 404 M_NOT_FOUND when absent. */
export const getSessionKey = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/room_keys/keys/:roomId/:sessionId'),
  auth: 'user',
  params: sessionParams,
  query: versionQuery,
  handler: async (ctx, req) =>
    ctx.services.keyBackup.getSessionKey(
      req.auth.userId,
      req.query.version,
      req.params.roomId,
      req.params.sessionId,
    ),
});
