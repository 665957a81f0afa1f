import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { versionQuery } from './room-keys-schemas.js';

/** `GET /room_keys/keys?version=`: every key of a version, `{rooms: {roomId: {sessions}}}`. */
export const getAllRoomKeys = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/room_keys/keys'),
  auth: 'user',
  query: versionQuery,
  handler: async (ctx, req) =>
    ctx.services.keyBackup.getAllKeys(req.auth.userId, req.query.version),
});
