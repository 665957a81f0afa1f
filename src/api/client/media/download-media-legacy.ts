import { defineEndpoint } from '../../endpoint.js';
import { downloadQuery, mediaParams, mediaPaths, serveDownload } from './media-params.js';

/**
 * The deprecated unauthenticated `GET /_matrix/media/v3/download/{serverName}/{mediaId}[/{fileName}]`,
 * frozen per tenant as spec v1.11 describes: media uploaded since the tenant's
 * `unauthenticated_media_freeze_ts` is 404 M_NOT_FOUND here (new tenants: all of it).
 */
export const downloadMediaLegacy = defineEndpoint({
  method: 'GET',
  paths: [
    ...mediaPaths('/download/:serverName/:mediaId'),
    ...mediaPaths('/download/:serverName/:mediaId/:fileName'),
  ],
  auth: 'none',
  params: mediaParams,
  query: downloadQuery,
  handler: (ctx, req) => serveDownload(ctx.services.media, req, true),
});
