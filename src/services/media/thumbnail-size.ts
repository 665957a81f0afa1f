/**
 * Which thumbnail to make for a request (spec: "Thumbnails"). Requested sizes are the smallest
 * the client wants; the answer may be larger. To keep the cache small, `scale` requests are
 * served from the spec's recommended sizes (the smallest box at least as large, else the largest,
 * 800x600). `crop` must keep the requested aspect ratio, so it is cut at the requested size (the
 * spec's 32x32 and 96x96 when a square fits in them), shrunk to fit 800x600 when larger.
 */
import type { ThumbnailMethod, ThumbnailSpec } from '../../storage/media/thumbnail-records.js';

export const MAX_THUMBNAIL_WIDTH = 800;
export const MAX_THUMBNAIL_HEIGHT = 600;

/** The spec's recommended `scale` sizes, smallest first. */
const SCALE_SIZES: ReadonlyArray<readonly [number, number]> = [
  [320, 240],
  [640, 480],
  [800, 600],
];
/** The spec's recommended `crop` sizes, smallest first. */
const CROP_SIZES: ReadonlyArray<readonly [number, number]> = [
  [32, 32],
  [96, 96],
];

/** The thumbnail (cache key) that serves a request of `width` x `height` by `method`. */
export function thumbnailSpecFor(
  width: number,
  height: number,
  method: ThumbnailMethod,
): ThumbnailSpec {
  if (method === 'scale') {
    const [w, h] = SCALE_SIZES.find(([w, h]) => w >= width && h >= height) ?? SCALE_SIZES.at(-1)!;
    return { width: w, height: h, method };
  }
  if (width === height) {
    const square = CROP_SIZES.find(([w]) => w >= width);
    if (square !== undefined) return { width: square[0], height: square[1], method };
  }
  const shrink = Math.min(1, MAX_THUMBNAIL_WIDTH / width, MAX_THUMBNAIL_HEIGHT / height);
  return {
    width: Math.max(1, Math.round(width * shrink)),
    height: Math.max(1, Math.round(height * shrink)),
    method,
  };
}

/**
 * The size of the thumbnail of a `sourceWidth` x `sourceHeight` image, never larger than the
 * source: `scale` fits it inside the box keeping its aspect ratio; `crop` keeps the box's aspect
 * ratio, as large as the box or as the source allows.
 */
export function thumbnailDimensions(
  sourceWidth: number,
  sourceHeight: number,
  spec: ThumbnailSpec,
): { width: number; height: number } {
  if (spec.method === 'scale') {
    const factor = Math.min(1, spec.width / sourceWidth, spec.height / sourceHeight);
    return {
      width: Math.max(1, Math.round(sourceWidth * factor)),
      height: Math.max(1, Math.round(sourceHeight * factor)),
    };
  }
  const factor = Math.min(1, sourceWidth / spec.width, sourceHeight / spec.height);
  return {
    width: Math.max(1, Math.min(sourceWidth, Math.round(spec.width * factor))),
    height: Math.max(1, Math.min(sourceHeight, Math.round(spec.height * factor))),
  };
}
