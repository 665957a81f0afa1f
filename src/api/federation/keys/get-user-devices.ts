import { z } from 'zod';
import { notFound } from '../../../core/errors.js';
import { parseUserId } from '../../../core/identifiers.js';
import { userIdField } from '../../client/rooms/room-params.js';
import { defineEndpoint } from '../../endpoint.js';

/**
 * `GET /_matrix/federation/v1/user/devices/{userId}`: a local user's devices with their identity
 * keys and display names, and the user's master and self-signing keys (an unknown local user has
 * no devices). A user of another server is 404 M_NOT_FOUND; a malformed user ID 400.
 */
export const getUserDevices = defineEndpoint({
  method: 'GET',
  paths: ['/_matrix/federation/v1/user/devices/:userId'],
  auth: 'server',
  params: z.object({ userId: userIdField }),
  handler: async (ctx, req) => {
    if (parseUserId(req.params.userId).serverName !== ctx.serverName) {
      throw notFound(`${req.params.userId} is not a user of this server`);
    }
    return ctx.services.keyQuery.devicesForServer(req.params.userId);
  },
});
