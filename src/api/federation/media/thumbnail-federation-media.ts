import { z } from 'zod';
import { DEFAULT_DOWNLOAD_TIMEOUT_MS } from '../../../services/media/media-repository.js';
import { defineEndpoint } from '../../endpoint.js';
import { mediaIdParam } from '../../client/media/media-params.js';
import { thumbnailFileName, thumbnailQuery } from '../../client/media/thumbnail-params.js';
import { federationMediaResponse } from './federation-media-response.js';

/**
 * `GET /_matrix/federation/v1/media/thumbnail/{mediaId}?width&height[&method][&animated]`: a
 * thumbnail of this server's media for another server, made as for the client endpoint, as
 * `multipart/mixed` (`{}`, then the thumbnail's bytes).
 */
export const thumbnailFederationMedia = defineEndpoint({
  method: 'GET',
  paths: ['/_matrix/federation/v1/media/thumbnail/:mediaId'],
  auth: 'server',
  params: z.object({ mediaId: mediaIdParam }),
  query: thumbnailQuery,
  handler: async (ctx, req) => {
    const thumbnail = await ctx.services.thumbnails.thumbnail({
      serverName: ctx.serverName,
      mediaId: req.params.mediaId,
      width: req.query.width,
      height: req.query.height,
      method: req.query.method,
      animated: req.query.animated ?? false,
      timeoutMs: req.query.timeout_ms ?? DEFAULT_DOWNLOAD_TIMEOUT_MS,
      signal: req.signal,
      unauthenticated: false,
    });
    return federationMediaResponse(
      thumbnail,
      `inline; filename="${thumbnailFileName(thumbnail.contentType)}"`,
    );
  },
});
