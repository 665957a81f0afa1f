/**
 * What the two thumbnail endpoints (authenticated and deprecated) share: their query, and the
 * response, served like a download (same safety headers) but always `inline` with a
 * `thumbnail.<ext>` file name, as the spec's thumbnail response requires.
 */
import { z } from 'zod';
import { DEFAULT_DOWNLOAD_TIMEOUT_MS } from '../../../services/media/media-repository.js';
import type { ThumbnailService } from '../../../services/media/thumbnail-service.js';
import type { EndpointResponse } from '../../endpoint.js';
import { downloadQuery, mediaParams, mediaResponse } from './media-params.js';

const dimension = z
  .string()
  .regex(/^\d{1,9}$/, 'must be a positive integer')
  .transform(Number)
  .refine((value) => value > 0, 'must be a positive integer');

export const thumbnailParams = mediaParams.omit({ fileName: true });

export const thumbnailQuery = downloadQuery.extend({
  width: dimension,
  height: dimension,
  /** Synapse's default when absent: `scale`. */
  method: z.enum(['crop', 'scale']).default('scale'),
  animated: z
    .enum(['true', 'false'])
    .transform((value) => value === 'true')
    .optional(),
});

const EXTENSIONS: Readonly<Record<string, string>> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/gif': 'gif',
  'image/webp': 'webp',
};

/** A thumbnail, authenticated or not (`unauthenticated`: the deprecated endpoint, frozen). */
export async function serveThumbnail(
  thumbnails: ThumbnailService,
  req: {
    params: z.infer<typeof thumbnailParams>;
    query: z.infer<typeof thumbnailQuery>;
    signal?: AbortSignal;
  },
  unauthenticated: boolean,
): Promise<EndpointResponse> {
  const thumbnail = await thumbnails.thumbnail({
    serverName: req.params.serverName,
    mediaId: req.params.mediaId,
    width: req.query.width,
    height: req.query.height,
    method: req.query.method,
    animated: req.query.animated ?? false,
    timeoutMs: req.query.timeout_ms ?? DEFAULT_DOWNLOAD_TIMEOUT_MS,
    signal: req.signal,
    unauthenticated,
  });
  return mediaResponse(thumbnail, thumbnailFileName(thumbnail.contentType));
}

/** `thumbnail.png`, `thumbnail.jpg`…: the file name thumbnails are served with. */
export function thumbnailFileName(contentType: string): string {
  return `thumbnail.${EXTENSIONS[contentType] ?? 'png'}`;
}
