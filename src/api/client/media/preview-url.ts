import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientV1Paths } from '../paths.js';
import { mediaPaths } from './media-params.js';

/**
 * `GET /_matrix/client/v1/media/preview_url?url=URL[&ts=TS]`: the OpenGraph data of a URL (see
 * `UrlPreviews`). Also the deprecated `/_matrix/media/v3/preview_url`: it always needed an access
 * token, so the v1.11 freeze of unauthenticated media does not concern it. `ts` is accepted and
 * ignored: the newest preview we have is returned, as the spec allows.
 */
export const previewUrl = defineEndpoint({
  method: 'GET',
  paths: [...clientV1Paths('/media/preview_url'), ...mediaPaths('/preview_url')],
  auth: 'user',
  query: z.object({
    url: z.string().min(1),
    ts: z
      .string()
      .regex(/^-?\d{1,16}$/, 'must be an integer')
      .optional(),
  }),
  handler: (ctx, req) => ctx.services.urlPreviews.preview(req.auth.userId, req.query.url),
});
