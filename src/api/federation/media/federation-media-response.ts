/**
 * The answer of the federation media endpoints (server-server API, "Content Repository"):
 * `multipart/mixed` with the JSON metadata part (`{}`) and the media's bytes, never a redirect.
 */
import { multipartMedia } from '../../../services/media/multipart-media.js';
import type { OpenedMedia } from '../../../services/media/media-repository.js';
import { respond, type EndpointResponse } from '../../endpoint.js';

export function federationMediaResponse(
  media: OpenedMedia,
  contentDisposition: string,
): EndpointResponse {
  const multipart = multipartMedia(media, {
    'Content-Type': media.contentType,
    'Content-Disposition': contentDisposition,
  });
  return respond(200, multipart.body, {
    'Content-Type': multipart.contentType,
    'Content-Length': String(multipart.length),
  });
}
