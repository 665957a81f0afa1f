/**
 * Shapes of the keys clients publish (zod): device keys, one-time and fallback keys, cross-signing
 * keys. The services check what a shape cannot say (names, signatures, ownership).
 */
import { z } from 'zod';
import type { JsonObject } from '../../../core/canonical-json.js';
import type {
  CrossSigningKeyObject,
  DeviceKeysObject,
  OneTimeKeyValue,
} from '../../../services/e2ee/key-shapes.js';

/** Longest string accepted in a key object (keys, IDs, signatures are far shorter). */
const MAX_STRING = 4096;

const shortString = z.string().max(MAX_STRING);
const signaturesSchema = z.record(z.string(), z.record(z.string(), shortString));

export const deviceKeysSchema = z
  .looseObject({
    user_id: z.string(),
    device_id: z.string(),
    algorithms: z.array(shortString),
    keys: z.record(z.string(), shortString),
    signatures: signaturesSchema,
  })
  .transform((value) => value as DeviceKeysObject);

/** A one-time or fallback key: a string, or an object with `key` and `signatures`. */
export const oneTimeKeySchema = z.union([
  shortString,
  z
    .looseObject({ key: shortString, signatures: signaturesSchema })
    .transform((value) => value as JsonObject),
]);

export const oneTimeKeysSchema = z
  .record(z.string(), oneTimeKeySchema)
  .transform((value) => value as Record<string, OneTimeKeyValue>);

export const crossSigningKeySchema = z
  .looseObject({
    user_id: z.string(),
    usage: z.array(shortString),
    keys: z.record(z.string(), shortString),
    signatures: signaturesSchema.optional(),
  })
  .transform((value) => value as CrossSigningKeyObject);

/** `timeout` of `/keys/query` and `/keys/claim`: how long to wait for other servers, in ms. */
export const federationTimeoutSchema = z.number().int().nonnegative().optional();
