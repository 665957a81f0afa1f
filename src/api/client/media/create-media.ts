import { defineEndpoint } from '../../endpoint.js';
import { mediaPaths } from './media-params.js';

/**
 * `POST /_matrix/media/v1/create`: an `mxc://` URI whose content comes later (`PUT /upload`),
 * with the time it expires unused. Too many pending: 429 M_LIMIT_EXCEEDED.
 */
export const createMedia = defineEndpoint({
  method: 'POST',
  paths: mediaPaths('/create', ['v1']),
  auth: 'user',
  handler: async (ctx, req) => ctx.services.media.create(req.auth.userId),
});
