import { defineEndpoint } from '../../endpoint.js';
import { clientV1Paths } from '../paths.js';
import { downloadQuery, downloadTimeoutOf, mediaParams, mediaResponse } from './media-params.js';

/**
 * `GET /_matrix/client/v1/media/download/{serverName}/{mediaId}[/{fileName}]`: authenticated
 * download. A pending asynchronous upload is waited for up to `timeout_ms` (then 504
 * M_NOT_YET_UPLOADED); other servers' media is 404 until media federation exists.
 */
export const downloadMedia = defineEndpoint({
  method: 'GET',
  paths: [
    ...clientV1Paths('/media/download/:serverName/:mediaId'),
    ...clientV1Paths('/media/download/:serverName/:mediaId/:fileName'),
  ],
  auth: 'user',
  allowGuests: true,
  params: mediaParams,
  query: downloadQuery,
  handler: async (ctx, req) => {
    const media = await ctx.services.media.open(req.params.serverName, req.params.mediaId, {
      timeoutMs: downloadTimeoutOf(req.query),
      signal: req.signal,
      unauthenticated: false,
    });
    return mediaResponse(media, req.params.fileName);
  },
});
