import { z } from 'zod';
import { PROFILE_FIELDS, type ProfileField } from '../../../services/profiles/profiles.js';

/** The spec's grammar for `{keyName}`: the known fields or a namespaced custom one. */
export const keyNameParam = z
  .string()
  .regex(
    /^(avatar_url|displayname|m\.tz|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+)$/,
    'not a valid profile field name',
  );

/** Whether this server stores the field (others are valid names it does not keep). */
export function isStoredField(keyName: string): keyName is ProfileField {
  return (PROFILE_FIELDS as readonly string[]).includes(keyName);
}
