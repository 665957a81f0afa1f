import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { renderThumbnail, ThumbnailRenderError } from './thumbnail-image.js';

async function image(width: number, height: number, format: 'png' | 'jpeg' | 'gif') {
  const raw = sharp({
    create: { width, height, channels: 3, background: { r: 200, g: 40, b: 90 } },
  });
  return raw[format]().toBuffer();
}

const asked = (width: number, height: number) => ({
  requested: { width, height },
  animated: false,
  maxPixels: 10_000_000,
});

describe('renderThumbnail', () => {
  it('scales a JPEG inside the box as a JPEG', async () => {
    const source = await image(1000, 500, 'jpeg');
    const out = await renderThumbnail(
      source,
      'image/jpeg',
      { width: 320, height: 240, method: 'scale' },
      asked(100, 100),
    );
    if (out.kind !== 'thumbnail') throw new Error('expected a thumbnail');
    expect(out.contentType).toBe('image/jpeg');
    expect(await sharp(out.data).metadata()).toMatchObject({
      format: 'jpeg',
      width: 320,
      height: 160,
    });
  });

  it('crops a GIF to the exact size as a static PNG', async () => {
    const source = await image(300, 200, 'gif');
    const out = await renderThumbnail(
      source,
      'image/gif',
      { width: 96, height: 96, method: 'crop' },
      asked(96, 96),
    );
    if (out.kind !== 'thumbnail') throw new Error('expected a thumbnail');
    expect(out.contentType).toBe('image/png');
    expect(await sharp(out.data).metadata()).toMatchObject({
      format: 'png',
      width: 96,
      height: 96,
    });
  });

  it('answers `original` for a PNG no larger than asked, re-encodes a small GIF', async () => {
    const png = await image(40, 30, 'png');
    const spec = { width: 320, height: 240, method: 'scale' } as const;
    expect(await renderThumbnail(png, 'image/png', spec, asked(320, 240))).toEqual({
      kind: 'original',
    });
    const gif = await image(40, 30, 'gif');
    const out = await renderThumbnail(gif, 'image/gif', spec, asked(320, 240));
    if (out.kind !== 'thumbnail') throw new Error('expected a thumbnail');
    expect(await sharp(out.data).metadata()).toMatchObject({
      format: 'png',
      width: 40,
      height: 30,
    });
    // An animated thumbnail is welcome: the GIF itself.
    expect(
      await renderThumbnail(gif, 'image/gif', spec, { ...asked(320, 240), animated: true }),
    ).toEqual({ kind: 'original' });
  });

  it('refuses images with too many pixels before decoding them, and garbage', async () => {
    const big = await image(4000, 3000, 'png');
    await expect(
      renderThumbnail(
        big,
        'image/png',
        { width: 320, height: 240, method: 'scale' },
        { ...asked(320, 240), maxPixels: 1_000_000 },
      ),
    ).rejects.toMatchObject({ reason: 'too_many_pixels' });
    await expect(
      renderThumbnail(
        Buffer.from('not an image'),
        'image/png',
        { width: 320, height: 240, method: 'scale' },
        asked(320, 240),
      ),
    ).rejects.toBeInstanceOf(ThumbnailRenderError);
  });

  describe('animated sources', () => {
    /** A 3-frame animated GIF. */
    async function animation(width: number, height: number): Promise<Buffer> {
      const frames = 3;
      const pixels = Buffer.alloc(width * height * frames * 3);
      for (let i = 0; i < pixels.length; i++) pixels[i] = Math.floor(i / (width * height * 3)) * 90;
      return sharp(pixels, {
        raw: { width, height: height * frames, channels: 3, pageHeight: height },
      })
        .gif({ delay: [100, 100, 100], loop: 0 })
        .toBuffer();
    }
    const crop = { width: 32, height: 32, method: 'crop' } as const;

    it('makes an animated WebP of every frame when animated thumbnails are asked for', async () => {
      const out = await renderThumbnail(await animation(90, 60), 'image/gif', crop, {
        ...asked(32, 32),
        animated: true,
      });
      if (out.kind !== 'thumbnail') throw new Error('expected a thumbnail');
      expect(out.contentType).toBe('image/webp');
      expect(await sharp(out.data, { animated: true }).metadata()).toMatchObject({
        format: 'webp',
        pages: 3,
        width: 32,
        pageHeight: 32,
      });
    });

    it('makes a still of the first frame when not asked, or when all frames pass the pixel limit', async () => {
      const source = await animation(90, 60);
      for (const options of [
        asked(32, 32),
        { ...asked(32, 32), animated: true, maxPixels: 90 * 60 * 2 },
      ]) {
        const out = await renderThumbnail(source, 'image/gif', crop, options);
        if (out.kind !== 'thumbnail') throw new Error('expected a thumbnail');
        expect(out.contentType).toBe('image/png');
        expect((await sharp(out.data).metadata()).pages ?? 1).toBe(1);
      }
    });
  });
});
