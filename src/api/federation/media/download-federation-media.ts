import { z } from 'zod';
import { contentDisposition } from '../../../services/media/content-disposition.js';
import { DEFAULT_DOWNLOAD_TIMEOUT_MS } from '../../../services/media/media-repository.js';
import { defineEndpoint } from '../../endpoint.js';
import { downloadQuery, mediaIdParam } from '../../client/media/media-params.js';
import { federationMediaResponse } from './federation-media-response.js';

/**
 * `GET /_matrix/federation/v1/media/download/{mediaId}`: this server's media for another server,
 * as `multipart/mixed` (`{}`, then the bytes). Only local media; unknown: 404 M_NOT_FOUND; a
 * pending upload is waited for up to `timeout_ms` (then 504 M_NOT_YET_UPLOADED).
 */
export const downloadFederationMedia = defineEndpoint({
  method: 'GET',
  paths: ['/_matrix/federation/v1/media/download/:mediaId'],
  auth: 'server',
  params: z.object({ mediaId: mediaIdParam }),
  query: downloadQuery,
  handler: async (ctx, req) => {
    const media = await ctx.services.media.open(ctx.serverName, req.params.mediaId, {
      timeoutMs: req.query.timeout_ms ?? DEFAULT_DOWNLOAD_TIMEOUT_MS,
      signal: req.signal,
      unauthenticated: false,
    });
    return federationMediaResponse(media, contentDisposition(media.contentType, media.uploadName));
  },
});
