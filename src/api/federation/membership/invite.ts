import { z } from 'zod';
import type { JsonValue } from '../../../core/canonical-json.js';
import { defineEndpoint } from '../../endpoint.js';
import { pduBody, submittedEventParams } from './membership-params.js';

/**
 * `PUT /_matrix/federation/v2/invite/{roomId}/{eventId}`: another server invites one of this
 * server's users. The invite is co-signed and kept with `invite_room_state` (so /sync shows
 * it); the answer is the co-signed event.
 */
export const receiveInvite = defineEndpoint({
  method: 'PUT',
  paths: ['/_matrix/federation/v2/invite/:roomId/:eventId'],
  auth: 'server',
  params: submittedEventParams,
  body: z.object({
    room_version: z.string(),
    event: pduBody,
    invite_room_state: z.array(z.unknown()).optional(),
  }),
  handler: async (ctx, req) =>
    ctx.services.federation.membership.receiveInvite(
      req.auth.origin,
      req.params.roomId,
      req.params.eventId,
      {
        room_version: req.body.room_version,
        event: req.body.event,
        invite_room_state: (req.body.invite_room_state ?? []) as JsonValue[],
      },
    ),
});
