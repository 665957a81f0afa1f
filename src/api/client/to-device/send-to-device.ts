import { z } from 'zod';
import type { JsonObject } from '../../../core/canonical-json.js';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';

/** `{userId: {deviceId | "*": content}}`; user IDs are checked by the service. */
const messagesField = z.record(
  z.string(),
  z.record(
    z.string(),
    z.record(z.string(), z.unknown()).transform((value) => value as JsonObject),
  ),
);

/**
 * `PUT /sendToDevice/{eventType}/{txnId}`: sends a message to devices of users, outside any
 * room; the same transaction ID from the same device sends nothing again. Messages to users of
 * other servers are dropped for now (no federation). See docs/to-device.md.
 */
export const sendToDevice = defineEndpoint({
  method: 'PUT',
  paths: clientPaths('/sendToDevice/:eventType/:txnId'),
  auth: 'user',
  allowGuests: true,
  params: z.object({ eventType: z.string().min(1), txnId: z.string().min(1) }),
  body: z.looseObject({ messages: messagesField }),
  handler: async (ctx, req) => {
    const { eventType, txnId } = req.params;
    await ctx.services.toDevice.send(req.auth, eventType, txnId, req.body.messages);
    return {};
  },
});
