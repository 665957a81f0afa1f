import { z } from 'zod';
import type { JsonObject } from '../../../core/canonical-json.js';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';

const jsonObject = z.record(z.string(), z.unknown()).transform((value) => value as JsonObject);

/** `POST /createRoom`: creates a room with the caller as its creator. */
export const createRoom = defineEndpoint({
  method: 'POST',
  paths: clientPaths('/createRoom'),
  auth: 'user',
  body: z.object({
    visibility: z.enum(['public', 'private']).optional(),
    room_alias_name: z.string().optional(),
    name: z.string().optional(),
    topic: z.string().optional(),
    invite: z.array(z.string()).optional(),
    invite_3pid: z.array(z.unknown()).optional(),
    room_version: z.string().optional(),
    creation_content: jsonObject.optional(),
    initial_state: z
      .array(z.object({ type: z.string(), state_key: z.string().optional(), content: jsonObject }))
      .optional(),
    preset: z.enum(['private_chat', 'public_chat', 'trusted_private_chat']).optional(),
    is_direct: z.boolean().optional(),
    power_level_content_override: jsonObject.optional(),
  }),
  handler: async (ctx, req) => ({
    room_id: await ctx.services.roomCreation.create(req.auth.userId, req.body),
  }),
});
