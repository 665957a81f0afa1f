import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { roomParams, versionQuery } from './room-keys-schemas.js';

/** `DELETE /room_keys/keys/{roomId}?version=`: a room's keys. */
export const deleteRoomKeys = defineEndpoint({
  method: 'DELETE',
  paths: clientPaths('/room_keys/keys/:roomId'),
  auth: 'user',
  params: roomParams,
  query: versionQuery,
  handler: async (ctx, req) =>
    ctx.services.keyBackup.deleteKeys(req.auth.userId, req.query.version, {
      roomId: req.params.roomId,
    }),
});
