import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { roomIdParam } from './room-params.js';

/** `GET /rooms/{roomId}/state`: every state event (as of the caller's departure if they left). */
export const getRoomState = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/rooms/:roomId/state'),
  auth: 'user',
  allowGuests: true,
  params: z.object({ roomId: roomIdParam }),
  handler: async (ctx, req) => ctx.services.roomState.state(req.auth, req.params.roomId),
});
