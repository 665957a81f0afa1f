import { z } from 'zod';
import {
  STAGE_PASSWORD,
  authDataSchema,
} from '../../../services/user-interactive-auth/user-interactive-auth.js';
import { forbidden } from '../../../core/errors.js';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';

/**
 * `POST /account/deactivate`, behind user-interactive auth: the account can never log in again
 * and every session ends. `erase` also deletes profile, account data and filters. No 3PIDs are
 * stored, so there is never anything to unbind.
 */
export const deactivateAccount = defineEndpoint({
  method: 'POST',
  paths: clientPaths('/account/deactivate'),
  auth: 'optional-user',
  body: z.looseObject({
    auth: authDataSchema.nullish(),
    id_server: z.string().optional(),
    erase: z.boolean().optional(),
  }),
  handler: async (ctx, req) => {
    const { uia, users } = ctx.services;
    const authorisation = await uia.authorise({
      action: 'POST /account/deactivate',
      flows: req.auth ? await uia.flowsForUser(req.auth.userId) : [[STAGE_PASSWORD]],
      auth: req.body.auth,
      userId: req.auth?.userId ?? null,
    });
    // Every flow offered identifies the user (token or password), so this is only a safeguard.
    const userId = authorisation.userId;
    if (userId === null) throw forbidden('No user was authenticated');
    await users.deactivate(userId, {
      authorisation,
      erase: req.body.erase === true,
    });
    return { id_server_unbind_result: 'success' };
  },
});
