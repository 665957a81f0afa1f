import { z } from 'zod';
import { badJson, forbidden, missingParam } from '../../../core/errors.js';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { requireSelf, userIdParam } from '../user-params.js';
import { isStoredField, keyNameParam } from './profile-field.js';

/**
 * `PUT /profile/{userId}/{keyName}`: sets the caller's `displayname` or `avatar_url` (other
 * fields are not stored: 403). Guests may set only their displayname (spec: "Guest Access").
 * Rooms learn of the change through `Profiles.changed`.
 */
export const setProfileField = defineEndpoint({
  method: 'PUT',
  paths: clientPaths('/profile/:userId/:keyName'),
  auth: 'user',
  allowGuests: true,
  params: z.object({ userId: userIdParam, keyName: keyNameParam }),
  body: z.record(z.string(), z.unknown()),
  handler: async (ctx, req) => {
    const { userId, keyName } = req.params;
    requireSelf(req.auth, userId, "Cannot change another user's profile");
    if (!isStoredField(keyName)) throw forbidden(`This server does not store ${keyName}`);
    if (req.auth.isGuest && keyName !== 'displayname') {
      throw forbidden('Guests may only change their displayname');
    }
    const value = req.body[keyName];
    if (value === undefined) throw missingParam(`Missing field: ${keyName}`);
    if (value !== null && typeof value !== 'string') throw badJson(`${keyName} must be a string`);
    await ctx.services.profiles.set(userId, keyName, value);
    return {};
  },
});
