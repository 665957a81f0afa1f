import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { roomKeyBackup, roomParams, versionQuery } from './room-keys-schemas.js';

/** `PUT /room_keys/keys/{roomId}?version=`: stores keys of one room in the current version. */
export const putRoomKeys = defineEndpoint({
  method: 'PUT',
  paths: clientPaths('/room_keys/keys/:roomId'),
  auth: 'user',
  params: roomParams,
  query: versionQuery,
  body: roomKeyBackup,
  handler: async (ctx, req) =>
    ctx.services.keyBackup.putKeys(req.auth.userId, req.query.version, {
      [req.params.roomId]: req.body.sessions,
    }),
});
