import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { thumbnailStorageKeyOf } from '../../src/services/media/thumbnail-service.js';
import type { TenantConfig } from '../../src/services/tenant-config.js';
import {
  countThumbnails,
  selectThumbnail,
  type ThumbnailKey,
} from '../../src/storage/media/thumbnail-records.js';
import { AccountServer, type Json } from '../helpers/account-server.js';
import { S3RVER_CREDENTIALS, startS3rver, type TestS3 } from '../helpers/s3rver.js';

/**
 * Thumbnails over HTTP on both media stores (local directory; S3 through s3rver): real images
 * made here with sharp, uploaded, thumbnailed, and the answers decoded again to check their size
 * and format. The cache is checked in the tenant's database and store.
 */

const UPLOAD = '/_matrix/media/v3/upload';
const CREATE = '/_matrix/media/v1/create';
const THUMBNAIL = '/_matrix/client/v1/media/thumbnail/alpha.test';
const LEGACY_THUMBNAIL = '/_matrix/media/v3/thumbnail/alpha.test';
const CSP =
  "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; " +
  "style-src 'unsafe-inline'; media-src 'self'; object-src 'self';";
const MAX_THUMBNAIL_SOURCE = 400 * 1024;

interface Reply {
  status: number;
  headers: Headers;
  bytes: Buffer;
  json: Json;
}

let s3: TestS3;
let bucketCount = 0;
const images: Record<string, Buffer> = {};

/** A test image with some detail (a gradient), so that encoders have something to encode. */
async function makeImage(
  width: number,
  height: number,
  format: 'png' | 'jpeg' | 'gif',
): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      pixels[i] = (x * 255) / width;
      pixels[i + 1] = (y * 255) / height;
      pixels[i + 2] = 128;
    }
  }
  const image = sharp(pixels, { raw: { width, height, channels: 3 } });
  return image.toFormat(format).toBuffer();
}

/** An animated GIF: `frames` frames of a gradient in changing colours, joined by sharp. */
async function makeAnimatedGif(width: number, height: number, frames: number): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height * frames * 3);
  for (let frame = 0; frame < frames; frame++) {
    for (let i = 0; i < width * height; i++) {
      const offset = (frame * width * height + i) * 3;
      pixels[offset] = (frame * 255) / frames;
      pixels[offset + 1] = ((i % width) * 255) / width;
      pixels[offset + 2] = 255 - (frame * 255) / frames;
    }
  }
  return sharp(pixels, { raw: { width, height: height * frames, channels: 3, pageHeight: height } })
    .gif({ delay: new Array<number>(frames).fill(100), loop: 0 })
    .toBuffer();
}

beforeAll(async () => {
  s3 = await startS3rver();
  images.animatedGif = await makeAnimatedGif(400, 300, 3);
  images.png = await makeImage(1000, 800, 'png');
  images.jpeg = await makeImage(1200, 900, 'jpeg');
  images.gif = await makeImage(300, 200, 'gif');
  images.smallPng = await makeImage(40, 30, 'png');
  // Noise does not compress: a PNG over the thumbnail source limit.
  images.heavyPng = await sharp(randomBytes(400 * 400 * 3), {
    raw: { width: 400, height: 400, channels: 3 },
  })
    .png()
    .toBuffer();
  // 36 million pixels of one colour: a few kilobytes (a decompression bomb, mildly).
  images.bomb = await sharp({
    create: { width: 6000, height: 6000, channels: 3, background: { r: 0, g: 0, b: 0 } },
  })
    .png()
    .toBuffer();
}, 30_000);

afterAll(async () => {
  await s3?.stop();
});

interface StoreUnderTest {
  settings(): Promise<Partial<TenantConfig>>;
  /** Every stored key of the tenant, sorted. */
  keys(config: TenantConfig): Promise<string[]>;
}

const localStore: StoreUnderTest = {
  settings: async () => ({}),
  keys: async (config) => {
    if (config.media_store.kind !== 'local') throw new Error('not local');
    const root = config.media_store.path;
    const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
    return entries
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name).slice(root.length + 1))
      .sort();
  },
};

const s3Store: StoreUnderTest = {
  settings: async () => {
    bucketCount += 1;
    const bucket = `thumbnail-test-${bucketCount}`;
    await s3.createBucket(bucket);
    return {
      media_store: {
        kind: 's3',
        bucket,
        endpoint: s3.endpoint,
        region: 'us-east-1',
        prefix: 'tenant/',
        force_path_style: true,
        access_key_id: S3RVER_CREDENTIALS.accessKeyId,
        secret_access_key: S3RVER_CREDENTIALS.secretAccessKey,
      },
    };
  },
  keys: async (config) => {
    if (config.media_store.kind !== 's3') throw new Error('not s3');
    const prefix = config.media_store.prefix;
    return (await s3.keys(config.media_store.bucket)).map((key) => key.slice(prefix.length));
  },
};

async function send(
  server: AccountServer,
  method: string,
  path: string,
  options: { token?: string; body?: Buffer; contentType?: string } = {},
): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers['Authorization'] = `Bearer ${options.token}`;
  if (options.contentType !== undefined) headers['Content-Type'] = options.contentType;
  const response = await fetch(server.url + path, { method, headers, body: options.body });
  const bytes = Buffer.from(await response.arrayBuffer());
  let json: Json;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, bytes, json };
}

function mediaIdOf(contentUri: string): string {
  const match = /^mxc:\/\/alpha\.test\/([A-Za-z0-9_-]+)$/.exec(contentUri);
  if (!match) throw new Error(`not an mxc URI of alpha.test: ${contentUri}`);
  return match[1]!;
}

async function decoded(reply: Reply): Promise<{ format: string; width: number; height: number }> {
  expect(reply.status, JSON.stringify(reply.json)).toBe(200);
  const { format, width, height } = await sharp(reply.bytes).metadata();
  return { format, width, height };
}

describe.each([
  ['local directory', localStore],
  ['S3 (s3rver)', s3Store],
] as const)('thumbnails on %s', (_name, store) => {
  let server: AccountServer;
  let alice: string;

  async function upload(bytes: Buffer, contentType: string): Promise<string> {
    const reply = await send(server, 'POST', UPLOAD, { token: alice, body: bytes, contentType });
    expect(reply.status, JSON.stringify(reply.json)).toBe(200);
    return mediaIdOf(reply.json.content_uri);
  }

  function thumbnail(mediaId: string, query: string) {
    return send(server, 'GET', `${THUMBNAIL}/${mediaId}?${query}`, { token: alice });
  }

  const rows = (mediaId: string) => server.context.db.read((db) => countThumbnails(db, mediaId));
  const row = (mediaId: string, spec: ThumbnailKey) =>
    server.context.db.read((db) => selectThumbnail(db, mediaId, spec));

  beforeAll(async () => {
    server = await AccountServer.start({
      ...(await store.settings()),
      max_thumbnail_source_bytes: MAX_THUMBNAIL_SOURCE,
      unauthenticated_media_freeze_ts: undefined,
    });
    alice = (await server.createUser('alice', 'alice-password')).accessToken;
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('scales a PNG inside the box, caches it in the store and the table, and serves the cache', async () => {
    const mediaId = await upload(images.png!, 'image/png');
    const first = await thumbnail(mediaId, 'width=320&height=240&method=scale');
    // 1000x800 inside 320x240: 300x240.
    expect(await decoded(first)).toEqual({ format: 'png', width: 300, height: 240 });
    expect(first.headers.get('content-type')).toBe('image/png');
    expect(first.headers.get('content-length')).toBe(String(first.bytes.length));
    expect(first.headers.get('content-disposition')).toBe('inline; filename="thumbnail.png"');
    expect(first.headers.get('content-security-policy')).toBe(CSP);
    expect(first.headers.get('cross-origin-resource-policy')).toBe('cross-origin');

    const spec = { width: 320, height: 240, method: 'scale', animated: false } as const;
    expect(await store.keys(server.config)).toContain(thumbnailStorageKeyOf(mediaId, spec));
    expect(await rows(mediaId)).toBe(1);
    const made = await row(mediaId, spec);
    expect(made).toMatchObject({ contentType: 'image/png', size: first.bytes.length });

    // A smaller scale request is served by the same thumbnail, from the cache: same bytes, no
    // new row, the row not rewritten (its time is the first generation's).
    server.clock.advance(60_000);
    const again = await thumbnail(mediaId, 'width=100&height=100');
    expect(again.bytes.equals(first.bytes)).toBe(true);
    expect(await rows(mediaId)).toBe(1);
    expect((await row(mediaId, spec))?.createdTs).toBe(made?.createdTs);
  });

  it('thumbnails a JPEG as JPEG: crops to exactly the size, scales to the next recommended size', async () => {
    const mediaId = await upload(images.jpeg!, 'image/jpeg');
    const square = await thumbnail(mediaId, 'width=96&height=96&method=crop');
    expect(await decoded(square)).toEqual({ format: 'jpeg', width: 96, height: 96 });
    expect(square.headers.get('content-type')).toBe('image/jpeg');
    expect(square.headers.get('content-disposition')).toBe('inline; filename="thumbnail.jpg"');
    // Not a recommended size: cut at the requested size, in its aspect ratio.
    const wide = await thumbnail(mediaId, 'width=200&height=100&method=crop');
    expect(await decoded(wide)).toEqual({ format: 'jpeg', width: 200, height: 100 });
    // 600x500 scale: the 640x480 box is too low, so 800x600: 1200x900 inside it is 800x600.
    const large = await thumbnail(mediaId, 'width=600&height=500&method=scale');
    expect(await decoded(large)).toEqual({ format: 'jpeg', width: 800, height: 600 });
    expect(await rows(mediaId)).toBe(3);
  });

  it('generates at most two thumbnails at a time per tenant; the others wait their turn', async () => {
    const mediaId = await upload(images.jpeg!, 'image/jpeg');
    const thumbnails = server.context.services.thumbnails;
    let mostRunning = 0;
    let mostWaiting = 0;
    let sampling = true;
    const sample = () => {
      const load = thumbnails.generationLoad;
      mostRunning = Math.max(mostRunning, load.running);
      mostWaiting = Math.max(mostWaiting, load.waiting);
      if (sampling) setImmediate(sample);
    };
    sample();
    const sizes = [40, 50, 60, 70, 80, 90, 110, 120];
    const replies = await Promise.all(
      sizes.map((size) => thumbnail(mediaId, `width=${size}&height=${size + 1}&method=crop`)),
    );
    sampling = false;
    for (const [i, reply] of replies.entries()) {
      expect(await decoded(reply)).toEqual({
        format: 'jpeg',
        width: sizes[i]!,
        height: sizes[i]! + 1,
      });
    }
    expect(mostRunning).toBe(2);
    expect(mostWaiting).toBeGreaterThan(0);
    expect(await rows(mediaId)).toBe(sizes.length);
  });

  it('thumbnails a GIF as a static PNG (also when an animated one is welcome)', async () => {
    const mediaId = await upload(images.gif!, 'image/gif');
    const crop = await thumbnail(mediaId, 'width=32&height=32&method=crop&animated=true');
    expect(await decoded(crop)).toEqual({ format: 'png', width: 32, height: 32 });
    expect(crop.headers.get('content-type')).toBe('image/png');
    // Never enlarged: 300x200 in the 320x240 box stays 300x200 (a static PNG, not the GIF).
    const scale = await thumbnail(mediaId, 'width=320&height=240&method=scale&animated=false');
    expect(await decoded(scale)).toEqual({ format: 'png', width: 300, height: 200 });
  });

  it('thumbnails an animated GIF as an animated WebP when animated=true, else as a still', async () => {
    const source = await sharp(images.animatedGif!).metadata();
    expect({ format: source.format, pages: source.pages }).toEqual({ format: 'gif', pages: 3 });
    const mediaId = await upload(images.animatedGif!, 'image/gif');

    const animated = await thumbnail(mediaId, 'width=32&height=32&method=crop&animated=true');
    expect(animated.status, JSON.stringify(animated.json)).toBe(200);
    expect(animated.headers.get('content-type')).toBe('image/webp');
    expect(animated.headers.get('content-disposition')).toBe('inline; filename="thumbnail.webp"');
    const frames = await sharp(animated.bytes, { animated: true }).metadata();
    expect(frames).toMatchObject({ format: 'webp', pages: 3, width: 32, pageHeight: 32 });

    // animated=false and no animated parameter: a still image of the first frame.
    for (const query of ['animated=false&', '']) {
      const still = await thumbnail(mediaId, `${query}width=32&height=32&method=crop`);
      expect(await decoded(still)).toEqual({ format: 'png', width: 32, height: 32 });
      expect((await sharp(still.bytes).metadata()).pages ?? 1).toBe(1);
    }
    // Scaled into the 320x240 box (the recommended size for a 96x96 request), every frame.
    const scaled = await thumbnail(mediaId, 'width=96&height=96&method=scale&animated=true');
    expect(await sharp(scaled.bytes, { animated: true }).metadata()).toMatchObject({
      format: 'webp',
      pages: 3,
      width: 320,
      pageHeight: 240,
    });

    // Cached apart: an animated and a still thumbnail of the same size and method.
    const crop32 = { width: 32, height: 32, method: 'crop' } as const;
    expect(await row(mediaId, { ...crop32, animated: true })).toMatchObject({
      contentType: 'image/webp',
      size: animated.bytes.length,
    });
    expect(await row(mediaId, { ...crop32, animated: false })).toMatchObject({
      contentType: 'image/png',
    });
    expect(await rows(mediaId)).toBe(3);
    expect(await store.keys(server.config)).toContain(
      thumbnailStorageKeyOf(mediaId, { ...crop32, animated: true }),
    );
    const again = await thumbnail(mediaId, 'width=32&height=32&method=crop&animated=true');
    expect(again.bytes.equals(animated.bytes)).toBe(true);
    expect(await rows(mediaId)).toBe(3);
  });

  it('answers animated=true for media that cannot be animated as if it were false', async () => {
    const mediaId = await upload(images.jpeg!, 'image/jpeg');
    const asked = await thumbnail(mediaId, 'width=96&height=96&method=crop&animated=true');
    expect(await decoded(asked)).toEqual({ format: 'jpeg', width: 96, height: 96 });
    const still = await thumbnail(mediaId, 'width=96&height=96&method=crop');
    expect(still.bytes.equals(asked.bytes)).toBe(true);
    // One cached thumbnail serves both.
    expect(await rows(mediaId)).toBe(1);
  });

  it('serves a JPEG or PNG no larger than asked as it is, without caching a copy', async () => {
    const mediaId = await upload(images.smallPng!, 'image/png');
    const reply = await thumbnail(mediaId, 'width=320&height=240&method=crop');
    expect(reply.status).toBe(200);
    expect(reply.bytes.equals(images.smallPng!)).toBe(true);
    expect(reply.headers.get('content-disposition')).toBe('inline; filename="thumbnail.png"');
    expect(await rows(mediaId)).toBe(0);
  });

  it('answers bad parameters with M_MISSING_PARAM / M_INVALID_PARAM', async () => {
    const mediaId = await upload(images.smallPng!, 'image/png');
    for (const query of ['height=32', 'width=32']) {
      const reply = await thumbnail(mediaId, query);
      expect(reply.status).toBe(400);
      expect(reply.json.errcode).toBe('M_MISSING_PARAM');
    }
    for (const query of [
      'width=0&height=32',
      'width=-5&height=32',
      'width=3.5&height=32',
      'width=abc&height=32',
      'width=32&height=32&method=stretch',
      'width=32&height=32&animated=yes',
      'width=32&height=32&timeout_ms=soon',
    ]) {
      const reply = await thumbnail(mediaId, query);
      expect(reply.status, query).toBe(400);
      expect(reply.json.errcode, query).toBe('M_INVALID_PARAM');
    }
    const badId = await thumbnail('bad.id', 'width=32&height=32');
    expect(badId.status).toBe(400);
    expect(badId.json.errcode).toBe('M_INVALID_PARAM');
  });

  it('answers media it cannot thumbnail with the spec’s errors', async () => {
    const text = await upload(Buffer.from('hello'), 'text/plain');
    const notImage = await thumbnail(text, 'width=32&height=32');
    expect(notImage.status).toBe(400);
    expect(notImage.json).toEqual({
      errcode: 'M_UNKNOWN',
      error: 'Cannot generate thumbnails for the requested content',
    });
    const broken = await upload(Buffer.from('not really a png'), 'image/png');
    const undecodable = await thumbnail(broken, 'width=32&height=32');
    expect(undecodable.status).toBe(400);
    expect(undecodable.json.errcode).toBe('M_UNKNOWN');

    // Over the tenant's `max_thumbnail_source_bytes`, and over the pixel limit: 413.
    expect(images.heavyPng!.length).toBeGreaterThan(MAX_THUMBNAIL_SOURCE);
    const heavy = await upload(images.heavyPng!, 'image/png');
    const tooHeavy = await thumbnail(heavy, 'width=32&height=32');
    expect(tooHeavy.status).toBe(413);
    expect(tooHeavy.json.errcode).toBe('M_TOO_LARGE');
    const bomb = await upload(images.bomb!, 'image/png');
    const tooManyPixels = await thumbnail(bomb, 'width=32&height=32');
    expect(tooManyPixels.status).toBe(413);
    expect(tooManyPixels.json.errcode).toBe('M_TOO_LARGE');
    for (const id of [text, broken, heavy, bomb]) expect(await rows(id)).toBe(0);

    const unknown = await thumbnail('NoSuchMedia123', 'width=32&height=32');
    expect(unknown.status).toBe(404);
    expect(unknown.json.errcode).toBe('M_NOT_FOUND');
    const remote = await send(
      server,
      'GET',
      `/_matrix/client/v1/media/thumbnail/other.test/abc?width=32&height=32`,
      {
        token: alice,
      },
    );
    // A server that cannot be reached (remote thumbnails: media-federation.test.ts).
    expect(remote.status).toBe(502);
    expect(remote.json.errcode).toBe('M_UNKNOWN');
    // A pending asynchronous upload, not waited for: 504 M_NOT_YET_UPLOADED.
    const created = await send(server, 'POST', CREATE, { token: alice });
    const pending = await thumbnail(
      mediaIdOf(created.json.content_uri),
      'width=32&height=32&timeout_ms=0',
    );
    expect(pending.status).toBe(504);
    expect(pending.json.errcode).toBe('M_NOT_YET_UPLOADED');
  });

  it('needs a token on the authenticated endpoint; the legacy one is frozen like downloads', async () => {
    const before = await upload(images.gif!, 'image/gif');
    const anonymous = await send(server, 'GET', `${THUMBNAIL}/${before}?width=32&height=32`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.json.errcode).toBe('M_MISSING_TOKEN');

    const legacy = await send(
      server,
      'GET',
      `${LEGACY_THUMBNAIL}/${before}?width=32&height=32&method=crop`,
    );
    expect(await decoded(legacy)).toEqual({ format: 'png', width: 32, height: 32 });
    expect(legacy.headers.get('content-disposition')).toBe('inline; filename="thumbnail.png"');
    expect(legacy.headers.get('content-security-policy')).toBe(CSP);
    const r0 = await send(
      server,
      'GET',
      `/_matrix/media/r0/thumbnail/alpha.test/${before}?width=32&height=32&method=crop`,
    );
    expect(r0.bytes.equals(legacy.bytes)).toBe(true);

    // Freeze now: later media has no unauthenticated thumbnail; earlier media still has.
    server.config = { ...server.config, unauthenticated_media_freeze_ts: server.clock.now() + 1 };
    await server.restart();
    server.clock.advance(10);
    const after = await upload(images.gif!, 'image/gif');
    const frozen = await send(server, 'GET', `${LEGACY_THUMBNAIL}/${after}?width=32&height=32`);
    expect(frozen.status).toBe(404);
    expect(frozen.json.errcode).toBe('M_NOT_FOUND');
    expect(await rows(after)).toBe(0);
    const authed = await thumbnail(after, 'width=32&height=32&method=crop');
    expect(await decoded(authed)).toEqual({ format: 'png', width: 32, height: 32 });
    const stillOpen = await send(
      server,
      'GET',
      `${LEGACY_THUMBNAIL}/${before}?width=32&height=32&method=crop`,
    );
    expect(stillOpen.bytes.equals(legacy.bytes)).toBe(true);
    // A plain request last (see media.test.ts: a streamed answer may still be closing).
    expect(
      (await send(server, 'GET', '/_matrix/client/v1/media/config', { token: alice })).status,
    ).toBe(200);
  });
});
