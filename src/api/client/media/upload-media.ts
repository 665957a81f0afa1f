import { defineEndpoint } from '../../endpoint.js';
import { incomingUpload, mediaPaths, uploadQuery } from './media-params.js';

/** `POST /_matrix/media/v3/upload`: stores the streamed body; answers its `mxc://` URI. */
export const uploadMedia = defineEndpoint({
  method: 'POST',
  paths: mediaPaths('/upload'),
  auth: 'user',
  query: uploadQuery,
  streamBody: true,
  handler: async (ctx, req) => ({
    content_uri: await ctx.services.media.upload(req.auth.userId, incomingUpload(req)),
  }),
});
