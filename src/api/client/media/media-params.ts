/**
 * What the media endpoints share: their path and query parameters, the upload a request brings,
 * and the response that serves media with the spec's safety headers.
 */
import { z } from 'zod';
import {
  MEDIA_CONTENT_SECURITY_POLICY,
  contentDisposition,
} from '../../../services/media/content-disposition.js';
import {
  DEFAULT_DOWNLOAD_TIMEOUT_MS,
  type IncomingUpload,
  type MediaRepository,
  type OpenedMedia,
} from '../../../services/media/media-repository.js';
import { respond, type EndpointRequest, type EndpointResponse } from '../../endpoint.js';

/** `/_matrix/media/{version}…`: uploads and the deprecated unauthenticated downloads. */
export function mediaPaths(path: string, versions: readonly string[] = ['v3', 'r0']): string[] {
  return versions.map((version) => `/_matrix/media/${version}${path}`);
}

/** The `server-name` of an `mxc://` URI; whether it is ours is the repository's question. */
export const serverNameParam = z.string().min(1).max(255);

/** The spec's media ID alphabet (`A-Za-z0-9_-`): nothing else can name a file or object. */
export const mediaIdParam = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,255}$/, 'media IDs are made of A-Z, a-z, 0-9, _ and -');

export const mediaParams = z.object({
  serverName: serverNameParam,
  mediaId: mediaIdParam,
  /** The download paths with a file name. */
  fileName: z.string().optional(),
});

export const downloadQuery = z.object({
  timeout_ms: z
    .string()
    .regex(/^\d{1,15}$/, 'must be a non-negative integer')
    .transform(Number)
    .optional(),
});

export const uploadQuery = z.object({ filename: z.string().optional() });

/** The upload a request brings: its streamed body, `Content-Type`, `Content-Length` and name. */
export function incomingUpload(
  req: EndpointRequest<unknown, { filename?: string | undefined }, unknown, unknown>,
): IncomingUpload {
  if (req.bodyStream === undefined) throw new Error('a media upload endpoint must stream its body');
  const contentType = req.headers['content-type'];
  const length = req.headers['content-length'];
  return {
    body: req.bodyStream,
    contentType: typeof contentType === 'string' ? contentType : undefined,
    fileName: req.query.filename,
    declaredLength:
      typeof length === 'string' && /^\d{1,15}$/.test(length) ? Number(length) : undefined,
  };
}

/**
 * A download, authenticated or not: the media opened (a pending asynchronous upload waited for up
 * to `timeout_ms`) and served.
 */
export async function serveDownload(
  media: MediaRepository,
  req: {
    params: z.infer<typeof mediaParams>;
    query: z.infer<typeof downloadQuery>;
    signal?: AbortSignal;
  },
  unauthenticated: boolean,
): Promise<EndpointResponse> {
  const opened = await media.open(req.params.serverName, req.params.mediaId, {
    timeoutMs: req.query.timeout_ms ?? DEFAULT_DOWNLOAD_TIMEOUT_MS,
    signal: req.signal,
    unauthenticated,
  });
  return mediaResponse(opened, req.params.fileName);
}

/**
 * Serves media: its bytes streamed, its type as uploaded, `inline` only for the spec's safe types,
 * the file name asked for in the path (else the upload's), a sandboxing CSP, and CORP so that
 * web clients may use it.
 */
export function mediaResponse(media: OpenedMedia, fileName: string | undefined): EndpointResponse {
  return respond(200, media.body, {
    'Content-Type': media.contentType,
    'Content-Length': String(media.size),
    'Content-Disposition': contentDisposition(media.contentType, fileName ?? media.uploadName),
    'Content-Security-Policy': MEDIA_CONTENT_SECURITY_POLICY,
    'Cross-Origin-Resource-Policy': 'cross-origin',
  });
}
