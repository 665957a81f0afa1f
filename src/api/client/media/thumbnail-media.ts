import { defineEndpoint } from '../../endpoint.js';
import { clientV1Paths } from '../paths.js';
import { serveThumbnail, thumbnailParams, thumbnailQuery } from './thumbnail-params.js';

/**
 * `GET /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}?width&height[&method][&animated]`:
 * an authenticated thumbnail of local JPEG, PNG, GIF or WebP media (static; others: 400).
 */
export const thumbnailMedia = defineEndpoint({
  method: 'GET',
  paths: clientV1Paths('/media/thumbnail/:serverName/:mediaId'),
  auth: 'user',
  allowGuests: true,
  params: thumbnailParams,
  query: thumbnailQuery,
  handler: (ctx, req) => serveThumbnail(ctx.services.thumbnails, req, false),
});
