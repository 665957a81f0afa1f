import { defineEndpoint } from '../../endpoint.js';
import { mediaPaths } from './media-params.js';
import { serveThumbnail, thumbnailParams, thumbnailQuery } from './thumbnail-params.js';

/**
 * The deprecated unauthenticated `GET /_matrix/media/v3/thumbnail/{serverName}/{mediaId}`, frozen
 * per tenant exactly as the deprecated download: media uploaded since the tenant's
 * `unauthenticated_media_freeze_ts` is 404 M_NOT_FOUND here.
 */
export const thumbnailMediaLegacy = defineEndpoint({
  method: 'GET',
  paths: mediaPaths('/thumbnail/:serverName/:mediaId'),
  auth: 'none',
  params: thumbnailParams,
  query: thumbnailQuery,
  handler: (ctx, req) => serveThumbnail(ctx.services.thumbnails, req, true),
});
