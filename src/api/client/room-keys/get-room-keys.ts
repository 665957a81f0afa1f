import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { roomParams, versionQuery } from './room-keys-schemas.js';

/** `GET /room_keys/keys/{roomId}?version=`: a room's keys; `{sessions: {}}` when none. */
export const getRoomKeys = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/room_keys/keys/:roomId'),
  auth: 'user',
  params: roomParams,
  query: versionQuery,
  handler: async (ctx, req) =>
    ctx.services.keyBackup.getRoomKeys(req.auth.userId, req.query.version, req.params.roomId),
});
