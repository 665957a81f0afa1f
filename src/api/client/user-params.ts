import { z } from 'zod';
import { forbidden } from '../../core/errors.js';
import { isValidRoomId, isValidUserId } from '../../core/identifiers.js';
import type { RequestAuth } from '../endpoint.js';

/** A `{userId}` path parameter: a well-formed user ID, else 400 M_INVALID_PARAM. */
export const userIdParam = z
  .string()
  .refine((value) => isValidUserId(value), 'not a valid user ID');

/** A `{roomId}` path parameter: a well-formed room ID, else 400 M_INVALID_PARAM. */
export const roomIdParam = z
  .string()
  .refine((value) => isValidRoomId(value), 'not a valid room ID');

/** Endpoints under `/user/{userId}/…` act for the caller only: anyone else is 403 M_FORBIDDEN. */
export function requireSelf(auth: RequestAuth, userId: string, message: string): void {
  if (auth.userId !== userId) throw forbidden(message);
}
