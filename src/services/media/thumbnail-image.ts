/**
 * Renders a thumbnail with sharp (libvips). Decoding runs in libvips' threads, off the event
 * loop; what bounds it is the caller's (one semaphore per tenant). Images with more pixels than
 * `maxPixels` are refused before they are decoded (a small PNG can declare a huge image: a
 * decompression bomb). Thumbnails are still images of the first frame, except when an animated
 * one is asked for (`animated=true`, spec v1.11) and the source is an animated GIF or WebP: then
 * every frame is resized into an animated WebP (the type the spec says servers should prefer).
 * sharp is loaded on the first thumbnail (libvips adds about 19 MiB to a process that loads it),
 * so shards whose tenants never ask for one do not carry it.
 */
import type { ThumbnailSpec } from '../../storage/media/thumbnail-records.js';
import { thumbnailDimensions } from './thumbnail-size.js';

/** Source types that are thumbnailed (static output). */
export const THUMBNAILABLE_TYPES: ReadonlySet<string> = new Set([
  'image/jpeg',
  'image/png',
  'image/gif',
  'image/webp',
]);

/** Source types that may be animated (and then make animated thumbnails when asked). */
export const ANIMATABLE_TYPES: ReadonlySet<string> = new Set(['image/gif', 'image/webp']);

const JPEG_QUALITY = 80;
const WEBP_QUALITY = 80;

export type RenderedThumbnail =
  | { kind: 'thumbnail'; data: Buffer; contentType: 'image/jpeg' | 'image/png' | 'image/webp' }
  /** The source fits within what was asked: serve it as it is (the spec's "original content"). */
  | { kind: 'original' };

export class ThumbnailRenderError extends Error {
  constructor(
    readonly reason: 'too_many_pixels' | 'undecodable',
    message: string,
  ) {
    super(message);
  }
}

/**
 * A thumbnail of `source` (of type `sourceType`, one of THUMBNAILABLE_TYPES). When the source is
 * no larger than `requested` and may be served as it is (JPEG or PNG, or any when an animated
 * thumbnail is welcome), `original`. JPEG sources make JPEG thumbnails; the others PNG.
 */
export async function renderThumbnail(
  source: Buffer,
  sourceType: string,
  spec: ThumbnailSpec,
  options: { requested: { width: number; height: number }; animated: boolean; maxPixels: number },
): Promise<RenderedThumbnail> {
  const { default: sharp } = await import('sharp');
  const input = () =>
    sharp(source, { limitInputPixels: options.maxPixels, pages: 1, failOn: 'error' });
  let width: number;
  let height: number;
  let frames: number;
  try {
    // The header only (nothing is decoded), so the pixel count is checked here, by us.
    const metadata = await sharp(source, { limitInputPixels: false, pages: 1 }).metadata();
    ({ width, height } = metadata.autoOrient);
    frames = metadata.pages ?? 1;
  } catch (error) {
    throw new ThumbnailRenderError('undecodable', `cannot read the image: ${errorText(error)}`);
  }
  if (!(width > 0 && height > 0)) throw new ThumbnailRenderError('undecodable', 'empty image');
  if (width * height > options.maxPixels) {
    throw new ThumbnailRenderError(
      'too_many_pixels',
      `the image has ${width * height} pixels (at most ${options.maxPixels})`,
    );
  }
  const servableAsIs =
    options.animated || sourceType === 'image/jpeg' || sourceType === 'image/png';
  if (servableAsIs && width <= options.requested.width && height <= options.requested.height) {
    return { kind: 'original' };
  }
  const size = thumbnailDimensions(width, height, spec);
  const fit = spec.method === 'crop' ? 'cover' : 'inside';
  // Every frame is decoded: all of them count against the pixel limit (else: a still).
  const animate =
    options.animated &&
    ANIMATABLE_TYPES.has(sourceType) &&
    frames > 1 &&
    width * height * frames <= options.maxPixels;
  if (animate) {
    try {
      const data = await sharp(source, {
        animated: true,
        limitInputPixels: options.maxPixels,
        failOn: 'error',
      })
        .resize(size.width, size.height, { fit, position: 'centre', withoutEnlargement: true })
        .webp({ quality: WEBP_QUALITY })
        .toBuffer();
      return { kind: 'thumbnail', data, contentType: 'image/webp' };
    } catch (error) {
      throw new ThumbnailRenderError(
        'undecodable',
        `cannot thumbnail the animation: ${errorText(error)}`,
      );
    }
  }
  const resized = input().autoOrient().resize(size.width, size.height, {
    fit,
    position: 'centre',
    withoutEnlargement: true,
  });
  try {
    if (sourceType === 'image/jpeg') {
      return {
        kind: 'thumbnail',
        data: await resized.jpeg({ quality: JPEG_QUALITY }).toBuffer(),
        contentType: 'image/jpeg',
      };
    }
    return { kind: 'thumbnail', data: await resized.png().toBuffer(), contentType: 'image/png' };
  } catch (error) {
    throw new ThumbnailRenderError(
      'undecodable',
      `cannot thumbnail the image: ${errorText(error)}`,
    );
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
