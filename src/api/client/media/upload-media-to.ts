import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import {
  incomingUpload,
  mediaIdParam,
  mediaPaths,
  serverNameParam,
  uploadQuery,
} from './media-params.js';

/**
 * `PUT /_matrix/media/v3/upload/{serverName}/{mediaId}`: the content of a media ID made by
 * `/create`, once, by its creator (403 M_FORBIDDEN for others, 409 M_CANNOT_OVERWRITE_MEDIA).
 */
export const uploadMediaTo = defineEndpoint({
  method: 'PUT',
  paths: mediaPaths('/upload/:serverName/:mediaId', ['v3']),
  auth: 'user',
  params: z.object({ serverName: serverNameParam, mediaId: mediaIdParam }),
  query: uploadQuery,
  streamBody: true,
  handler: async (ctx, req) => {
    await ctx.services.media.uploadTo(
      req.auth.userId,
      req.params.serverName,
      req.params.mediaId,
      incomingUpload(req),
    );
    return {};
  },
});
