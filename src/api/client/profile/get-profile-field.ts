import { z } from 'zod';
import { notFound } from '../../../core/errors.js';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { userIdParam } from '../user-params.js';
import { isStoredField, keyNameParam } from './profile-field.js';

/** `GET /profile/{userId}/{keyName}`: one field; 404 M_NOT_FOUND when it is not set. */
export const getProfileField = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/profile/:userId/:keyName'),
  auth: 'none',
  params: z.object({ userId: userIdParam, keyName: keyNameParam }),
  handler: async (ctx, req) => {
    const { userId, keyName } = req.params;
    const profile = await ctx.services.profiles.get(userId);
    const value = isStoredField(keyName) ? profile[keyName] : undefined;
    if (value === undefined) throw notFound(`${keyName} is not set`);
    return { [keyName]: value };
  },
});
