import { z } from 'zod';
import type { JsonObject } from '../../../core/canonical-json.js';
import { isValidEventId, isValidRoomId, isValidUserId } from '../../../core/identifiers.js';

/** Path and body shapes shared by the federation membership endpoints. */

export const roomIdParam = z
  .string()
  .refine((value) => isValidRoomId(value), 'not a valid room ID');

export const membershipTemplateParams = z.object({
  roomId: roomIdParam,
  userId: z.string().refine((value) => isValidUserId(value), 'not a valid user ID'),
});

export const submittedEventParams = z.object({
  roomId: roomIdParam,
  eventId: z.string().refine((value) => isValidEventId(value), 'not a valid event ID'),
});

/** `?ver=` (repeated): the room versions the asking server supports. */
export const supportedVersionsQuery = z.object({
  ver: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .transform((value) => (value === undefined ? [] : Array.isArray(value) ? value : [value])),
});

/** A PDU in a request body (checked by the PDU verification, not here). */
export const pduBody = z.record(z.string(), z.unknown()).transform((value) => value as JsonObject);
