import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { allRoomKeysBody, versionQuery } from './room-keys-schemas.js';

/** `PUT /room_keys/keys?version=`: stores keys of several rooms in the current version. */
export const putAllRoomKeys = defineEndpoint({
  method: 'PUT',
  paths: clientPaths('/room_keys/keys'),
  auth: 'user',
  query: versionQuery,
  body: allRoomKeysBody,
  handler: async (ctx, req) => {
    const rooms = Object.fromEntries(
      Object.entries(req.body.rooms).map(([roomId, room]) => [roomId, room.sessions]),
    );
    return ctx.services.keyBackup.putKeys(req.auth.userId, req.query.version, rooms);
  },
});
