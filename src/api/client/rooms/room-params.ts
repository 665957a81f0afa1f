import { z } from 'zod';
import type { JsonObject } from '../../../core/canonical-json.js';
import {
  isValidEventId,
  isValidRoomAlias,
  isValidRoomId,
  isValidUserId,
} from '../../../core/identifiers.js';

import { clientPaths } from '../paths.js';
import { roomIdParam } from '../user-params.js';

export { roomIdParam };

/** An `{eventId}` path parameter: a well-formed event ID, else 400 M_INVALID_PARAM. */
export const eventIdParam = z
  .string()
  .refine((value) => isValidEventId(value), 'not a valid event ID');

/** A `{roomAlias}` path parameter. */
export const roomAliasParam = z
  .string()
  .refine((value) => isValidRoomAlias(value), 'not a valid room alias');

/** A `{roomIdOrAlias}` path parameter. */
export const roomIdOrAliasParam = z
  .string()
  .refine(
    (value) => isValidRoomId(value) || isValidRoomAlias(value),
    'not a valid room ID or room alias',
  );

/** A user ID in a request body (`user_id` of invite, kick, ban, unban). */
export const userIdField = z
  .string()
  .refine((value) => isValidUserId(value), 'not a valid user ID');

/** An integer query parameter. */
export const integerQuery = z
  .string()
  .regex(/^-?\d{1,15}$/, 'must be an integer')
  .transform(Number);

/** An event's content: any JSON object. */
export const contentBody = z
  .record(z.string(), z.unknown())
  .transform((value) => value as JsonObject);

/** `{ reason }`, the optional body of membership changes. */
export const reasonBody = z.object({ reason: z.string().optional() });

/**
 * `/rooms/{roomId}/state/{eventType}[/{stateKey}]`: without a state key (with or without the
 * trailing slash) the state key is empty.
 */
export const stateEventPaths = [
  ...clientPaths('/rooms/:roomId/state/:eventType/:stateKey'),
  ...clientPaths('/rooms/:roomId/state/:eventType/'),
  ...clientPaths('/rooms/:roomId/state/:eventType'),
];

/** The path parameters of `stateEventPaths`. */
export const stateEventParams = z.object({
  roomId: roomIdParam,
  eventType: z.string().min(1),
  stateKey: z.string().default(''),
});

/** The servers to join or knock through: `via` (v1.12+) and the older `server_name`, repeatable. */
export const viaServersQuery = z.object({
  via: z.union([z.string(), z.array(z.string())]).optional(),
  server_name: z.union([z.string(), z.array(z.string())]).optional(),
});

/** The servers of `viaServersQuery`, `via` first, each once. */
export function viaServers(query: z.output<typeof viaServersQuery>): string[] {
  const list = (value: string | string[] | undefined) =>
    value === undefined ? [] : Array.isArray(value) ? value : [value];
  return [...new Set([...list(query.via), ...list(query.server_name)])];
}
