import { defineEndpoint } from '../../endpoint.js';
import { clientV1Paths } from '../paths.js';
import { downloadQuery, mediaParams, serveDownload } from './media-params.js';

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
  handler: (ctx, req) => serveDownload(ctx.services.media, req, false),
});
