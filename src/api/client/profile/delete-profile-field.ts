import { z } from 'zod';
import { forbidden } from '../../../core/errors.js';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { requireSelf, userIdParam } from '../user-params.js';
import { isStoredField, keyNameParam } from './profile-field.js';

/** `DELETE /profile/{userId}/{keyName}`: clears one of the caller's profile fields. */
export const deleteProfileField = defineEndpoint({
  method: 'DELETE',
  paths: clientPaths('/profile/:userId/:keyName', { r0: false }),
  auth: 'user',
  allowGuests: true,
  params: z.object({ userId: userIdParam, keyName: keyNameParam }),
  handler: async (ctx, req) => {
    const { userId, keyName } = req.params;
    requireSelf(req.auth, userId, "Cannot change another user's profile");
    if (!isStoredField(keyName)) throw forbidden(`This server does not store ${keyName}`);
    if (req.auth.isGuest && keyName !== 'displayname') {
      throw forbidden('Guests may only change their displayname');
    }
    await ctx.services.profiles.set(userId, keyName, null);
    return {};
  },
});
