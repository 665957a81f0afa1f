import { createHash, randomBytes } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storageKeyOf } from '../../src/services/media/media-repository.js';
import type { TenantConfig } from '../../src/services/tenant-config.js';
import { AccountServer, type Json } from '../helpers/account-server.js';
import { S3RVER_CREDENTIALS, startS3rver, type TestS3 } from '../helpers/s3rver.js';

/**
 * The content repository over HTTP, on both media stores: the tenant's local directory, and S3
 * through the AWS SDK against s3rver (real HTTP). What lands in the store is read back directly
 * (the file, or GetObject on the bucket), not through Marina.
 */

const UPLOAD = '/_matrix/media/v3/upload';
const CREATE = '/_matrix/media/v1/create';
const DOWNLOAD = '/_matrix/client/v1/media/download';
const LEGACY_DOWNLOAD = '/_matrix/media/v3/download';
const MAX_UPLOAD = 256 * 1024;
const CSP =
  "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; " +
  "style-src 'unsafe-inline'; media-src 'self'; object-src 'self';";

interface Reply {
  status: number;
  headers: Headers;
  bytes: Buffer;
  json: Json;
}

let s3: TestS3;
let bucketCount = 0;

beforeAll(async () => {
  s3 = await startS3rver();
});

afterAll(async () => {
  await s3?.stop();
});

/** A store a test can look into directly. */
interface StoreUnderTest {
  /** Media settings for a new tenant (a fresh bucket for S3). */
  settings(): Promise<Partial<TenantConfig>>;
  /** Every stored key of the tenant (bucket or directory), sorted. */
  keys(config: TenantConfig): Promise<string[]>;
  /** The bytes stored under a key. */
  read(config: TenantConfig, key: string): Promise<Buffer>;
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
  read: async (config, key) => {
    if (config.media_store.kind !== 'local') throw new Error('not local');
    return readFile(join(config.media_store.path, key));
  },
};

const s3Store: StoreUnderTest = {
  settings: async () => {
    bucketCount += 1;
    const bucket = `media-test-${bucketCount}`;
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
    const keys = await s3.keys(config.media_store.bucket);
    for (const key of keys) expect(key.startsWith(prefix)).toBe(true);
    return keys.map((key) => key.slice(prefix.length));
  },
  read: async (config, key) => {
    if (config.media_store.kind !== 's3') throw new Error('not s3');
    return s3.read(config.media_store.bucket, config.media_store.prefix + key);
  },
};

async function send(
  server: AccountServer,
  method: string,
  path: string,
  options: {
    token?: string;
    body?: Buffer | ReadableStream<Uint8Array>;
    headers?: Record<string, string>;
  } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers['Authorization'] = `Bearer ${options.token}`;
  const response = await fetch(server.url + path, {
    method,
    headers,
    body: options.body,
    ...(options.body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit);
  const bytes = Buffer.from(await response.arrayBuffer());
  let json: Json;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, bytes, json };
}

/** A body sent in chunks with no Content-Length (the server only learns its size by reading). */
function chunked(bytes: Buffer, chunkSize = 16 * 1024): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(offset, offset + chunkSize));
      offset += chunkSize;
    },
  });
}

function mediaIdOf(contentUri: string): string {
  const match = /^mxc:\/\/alpha\.test\/([A-Za-z0-9_-]+)$/.exec(contentUri);
  if (!match) throw new Error(`not an mxc URI of alpha.test: ${contentUri}`);
  return match[1]!;
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

describe.each([
  ['local directory', localStore],
  ['S3 (s3rver)', s3Store],
] as const)('media on %s', (_name, store) => {
  let server: AccountServer;
  let alice: string;
  let bob: string;

  async function upload(
    bytes: Buffer,
    options: { contentType?: string; filename?: string; token?: string } = {},
  ): Promise<Reply> {
    const query =
      options.filename === undefined ? '' : `?filename=${encodeURIComponent(options.filename)}`;
    return send(server, 'POST', UPLOAD + query, {
      token: options.token ?? alice,
      body: bytes,
      headers: options.contentType === undefined ? {} : { 'Content-Type': options.contentType },
    });
  }

  beforeAll(async () => {
    server = await AccountServer.start({
      ...(await store.settings()),
      max_upload_size_bytes: MAX_UPLOAD,
      // Frozen a minute from now (the tenant's clock): the legacy test moves past it.
      unauthenticated_media_freeze_ts: undefined,
    });
    alice = (await server.createUser('alice', 'alice-password')).accessToken;
    bob = (await server.createUser('bob', 'bob-password')).accessToken;
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('stores an upload in the tenant’s store and serves it back, with and without a file name', async () => {
    const bytes = randomBytes(100_000);
    const uploaded = await upload(bytes, { contentType: 'image/png', filename: 'cat.png' });
    expect(uploaded.status, JSON.stringify(uploaded.json)).toBe(200);
    const mediaId = mediaIdOf(uploaded.json.content_uri);

    // The bytes are in the store, under the media's key, whole.
    const key = storageKeyOf(mediaId);
    expect(await store.keys(server.config)).toContain(key);
    expect(sha256(await store.read(server.config, key))).toBe(sha256(bytes));

    const plain = await send(server, 'GET', `${DOWNLOAD}/alpha.test/${mediaId}`, { token: bob });
    expect(plain.status).toBe(200);
    expect(plain.bytes.equals(bytes)).toBe(true);
    expect(plain.headers.get('content-type')).toBe('image/png');
    expect(plain.headers.get('content-length')).toBe(String(bytes.length));
    expect(plain.headers.get('content-disposition')).toBe('inline; filename="cat.png"');
    expect(plain.headers.get('content-security-policy')).toBe(CSP);
    expect(plain.headers.get('cross-origin-resource-policy')).toBe('cross-origin');

    const named = await send(server, 'GET', `${DOWNLOAD}/alpha.test/${mediaId}/kitten.png`, {
      token: bob,
    });
    expect(named.status).toBe(200);
    expect(named.bytes.equals(bytes)).toBe(true);
    expect(named.headers.get('content-disposition')).toBe('inline; filename="kitten.png"');
  });

  it('serves only safe types inline, and names files as uploaded', async () => {
    const html = await upload(Buffer.from('<script>alert(1)</script>'), {
      contentType: 'text/html',
      filename: 'page.html',
    });
    const htmlId = mediaIdOf(html.json.content_uri);
    const served = await send(server, 'GET', `${DOWNLOAD}/alpha.test/${htmlId}`, { token: alice });
    expect(served.headers.get('content-type')).toBe('text/html');
    expect(served.headers.get('content-disposition')).toBe('attachment; filename="page.html"');
    expect(served.headers.get('content-security-policy')).toBe(CSP);

    // No Content-Type: application/octet-stream; no filename: none in the header.
    const anonymous = await upload(Buffer.from('raw bytes'));
    const anonymousId = mediaIdOf(anonymous.json.content_uri);
    const raw = await send(server, 'GET', `${DOWNLOAD}/alpha.test/${anonymousId}`, {
      token: alice,
    });
    expect(raw.headers.get('content-type')).toBe('application/octet-stream');
    expect(raw.headers.get('content-disposition')).toBe('attachment');

    const french = await upload(Buffer.from('bonjour'), {
      contentType: 'text/plain; charset=utf-8',
      filename: 'été "1".txt',
    });
    const frenchId = mediaIdOf(french.json.content_uri);
    const text = await send(server, 'GET', `${DOWNLOAD}/alpha.test/${frenchId}`, { token: alice });
    expect(text.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(text.headers.get('content-disposition')).toBe(
      "inline; filename*=utf-8''%C3%A9t%C3%A9%20%221%22.txt",
    );
  });

  it('needs a token to upload and to download on the authenticated endpoints', async () => {
    const anonymousUpload = await send(server, 'POST', UPLOAD, { body: Buffer.from('x') });
    expect(anonymousUpload.status).toBe(401);
    expect(anonymousUpload.json.errcode).toBe('M_MISSING_TOKEN');
    const uploaded = await upload(Buffer.from('secret'));
    const mediaId = mediaIdOf(uploaded.json.content_uri);
    const anonymous = await send(server, 'GET', `${DOWNLOAD}/alpha.test/${mediaId}`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.json.errcode).toBe('M_MISSING_TOKEN');
  });

  it('answers unknown media, other servers’ media and bad media IDs with the spec’s errors', async () => {
    const unknown = await send(server, 'GET', `${DOWNLOAD}/alpha.test/NoSuchMedia123`, {
      token: alice,
    });
    expect(unknown.status).toBe(404);
    expect(unknown.json.errcode).toBe('M_NOT_FOUND');
    // Another server's media, from a server that cannot be reached: 502 (media over federation
    // itself: test/integration/media-federation.test.ts).
    const remote = await send(server, 'GET', `${DOWNLOAD}/elsewhere.test/SomeMedia`, {
      token: alice,
    });
    expect(remote.status).toBe(502);
    expect(remote.json.errcode).toBe('M_UNKNOWN');
    const bad = await send(server, 'GET', `${DOWNLOAD}/alpha.test/..%2F..%2Fetc`, { token: alice });
    expect(bad.status).toBe(400);
    expect(bad.json.errcode).toBe('M_INVALID_PARAM');
  });

  it('advertises the upload limit', async () => {
    for (const path of ['/_matrix/client/v1/media/config', '/_matrix/media/v3/config']) {
      const config = await send(server, 'GET', path, { token: alice });
      expect(config.status).toBe(200);
      expect(config.json).toEqual({ 'm.upload.size': MAX_UPLOAD });
    }
  });

  it('uploads asynchronously: create, a download that waits, the upload, once, by its creator', async () => {
    const created = await send(server, 'POST', CREATE, { token: alice });
    expect(created.status).toBe(200);
    const mediaId = mediaIdOf(created.json.content_uri);
    expect(created.json.unused_expires_at).toBe(server.clock.now() + 24 * 60 * 60 * 1000);

    // Not uploaded yet: a short wait ends with 504 M_NOT_YET_UPLOADED.
    const early = await send(server, 'GET', `${DOWNLOAD}/alpha.test/${mediaId}?timeout_ms=50`, {
      token: bob,
    });
    expect(early.status).toBe(504);
    expect(early.json.errcode).toBe('M_NOT_YET_UPLOADED');

    // A download waiting for it is answered once it is uploaded.
    const waiting = send(server, 'GET', `${DOWNLOAD}/alpha.test/${mediaId}?timeout_ms=20000`, {
      token: bob,
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const bytes = randomBytes(20_000);
    const bobsTry = await send(server, 'PUT', `${UPLOAD}/alpha.test/${mediaId}`, {
      token: bob,
      body: Buffer.from('not mine'),
    });
    expect(bobsTry.status).toBe(403);
    expect(bobsTry.json.errcode).toBe('M_FORBIDDEN');
    const put = await send(server, 'PUT', `${UPLOAD}/alpha.test/${mediaId}?filename=late.bin`, {
      token: alice,
      body: bytes,
      headers: { 'Content-Type': 'application/octet-stream' },
    });
    expect(put.status, JSON.stringify(put.json)).toBe(200);
    expect(put.json).toEqual({});
    const served = await waiting;
    expect(served.status).toBe(200);
    expect(served.bytes.equals(bytes)).toBe(true);
    expect(served.headers.get('content-disposition')).toBe('attachment; filename="late.bin"');
    expect(sha256(await store.read(server.config, storageKeyOf(mediaId)))).toBe(sha256(bytes));

    const again = await send(server, 'PUT', `${UPLOAD}/alpha.test/${mediaId}`, {
      token: alice,
      body: Buffer.from('overwrite'),
    });
    expect(again.status).toBe(409);
    expect(again.json.errcode).toBe('M_CANNOT_OVERWRITE_MEDIA');
    const still = await send(server, 'GET', `${DOWNLOAD}/alpha.test/${mediaId}`, { token: bob });
    expect(still.bytes.equals(bytes)).toBe(true);

    const unknown = await send(server, 'PUT', `${UPLOAD}/alpha.test/NeverCreated`, {
      token: alice,
      body: Buffer.from('x'),
    });
    expect(unknown.status).toBe(404);
    expect(unknown.json.errcode).toBe('M_NOT_FOUND');
  });

  it('expires unused media IDs and limits pending ones per user', async () => {
    const created = await send(server, 'POST', CREATE, { token: bob });
    const mediaId = mediaIdOf(created.json.content_uri);
    for (let i = 1; i < 10; i += 1) {
      expect((await send(server, 'POST', CREATE, { token: bob })).status).toBe(200);
    }
    const eleventh = await send(server, 'POST', CREATE, { token: bob });
    expect(eleventh.status).toBe(429);
    expect(eleventh.json.errcode).toBe('M_LIMIT_EXCEEDED');
    expect(eleventh.json.retry_after_ms).toBeGreaterThan(0);

    server.clock.advance(24 * 60 * 60 * 1000 + 1);
    const late = await send(server, 'PUT', `${UPLOAD}/alpha.test/${mediaId}`, {
      token: bob,
      body: Buffer.from('too late'),
    });
    expect(late.status).toBe(404);
    expect(late.json.errcode).toBe('M_NOT_FOUND');
    const gone = await send(server, 'GET', `${DOWNLOAD}/alpha.test/${mediaId}?timeout_ms=0`, {
      token: bob,
    });
    expect(gone.status).toBe(404);
    // Expired IDs no longer count as pending.
    expect((await send(server, 'POST', CREATE, { token: bob })).status).toBe(200);
  });

  it('refuses uploads over the size limit, declared or found while streaming, leaving nothing stored', async () => {
    const before = await store.keys(server.config);
    const declared = await upload(randomBytes(MAX_UPLOAD + 1));
    expect(declared.status).toBe(413);
    expect(declared.json.errcode).toBe('M_TOO_LARGE');

    const streamed = await send(server, 'POST', UPLOAD, {
      token: alice,
      body: chunked(randomBytes(MAX_UPLOAD + 50_000)),
    });
    expect(streamed.status).toBe(413);
    expect(streamed.json.errcode).toBe('M_TOO_LARGE');
    expect(await store.keys(server.config)).toEqual(before);

    // Exactly the limit is fine, streamed too.
    const exact = randomBytes(MAX_UPLOAD);
    const fits = await send(server, 'POST', UPLOAD, { token: alice, body: chunked(exact) });
    expect(fits.status).toBe(200);
    const id = mediaIdOf(fits.json.content_uri);
    const served = await send(server, 'GET', `${DOWNLOAD}/alpha.test/${id}`, { token: alice });
    expect(served.bytes.equals(exact)).toBe(true);
  });

  it('keeps the legacy unauthenticated download for media from before the freeze only', async () => {
    const before = await upload(Buffer.from('old media'), { contentType: 'text/plain' });
    const beforeId = mediaIdOf(before.json.content_uri);
    const open = await send(server, 'GET', `${LEGACY_DOWNLOAD}/alpha.test/${beforeId}/old.txt`);
    expect(open.status).toBe(200);
    expect(open.bytes.toString()).toBe('old media');
    expect(open.headers.get('content-disposition')).toBe('inline; filename="old.txt"');
    expect(open.headers.get('content-security-policy')).toBe(CSP);

    // Freeze now: later media is only served authenticated; earlier media still is, openly.
    server.config = { ...server.config, unauthenticated_media_freeze_ts: server.clock.now() + 1 };
    await server.restart();
    server.clock.advance(10);
    const after = await upload(Buffer.from('new media'), { contentType: 'text/plain' });
    const afterId = mediaIdOf(after.json.content_uri);
    const frozen = await send(server, 'GET', `${LEGACY_DOWNLOAD}/alpha.test/${afterId}`);
    expect(frozen.status).toBe(404);
    expect(frozen.json.errcode).toBe('M_NOT_FOUND');
    const authed = await send(server, 'GET', `${DOWNLOAD}/alpha.test/${afterId}`, { token: alice });
    expect(authed.status).toBe(200);
    expect(authed.bytes.toString()).toBe('new media');
    const stillOpen = await send(server, 'GET', `${LEGACY_DOWNLOAD}/alpha.test/${beforeId}`);
    expect(stillOpen.status).toBe(200);
    // A pending upload would be uploaded after the freeze: not found there at once.
    const created = await send(server, 'POST', CREATE, { token: alice });
    const pending = await send(
      server,
      'GET',
      `${LEGACY_DOWNLOAD}/alpha.test/${mediaIdOf(created.json.content_uri)}?timeout_ms=20000`,
    );
    expect(pending.status).toBe(404);
  });

  it('freezes the legacy download of a new tenant from its creation (the default)', async () => {
    const fresh = await AccountServer.start(await store.settings());
    try {
      expect(fresh.config.unauthenticated_media_freeze_ts).toBeGreaterThan(0);
      // The test clock started a moment before the tenant was created.
      fresh.clock.advance(1000);
      const token = (await fresh.createUser('carol', 'carol-password')).accessToken;
      const uploaded = await send(fresh, 'POST', UPLOAD, { token, body: Buffer.from('hi') });
      const mediaId = mediaIdOf(uploaded.json.content_uri);
      const legacy = await send(fresh, 'GET', `${LEGACY_DOWNLOAD}/alpha.test/${mediaId}`);
      expect(legacy.status).toBe(404);
      expect(legacy.json.errcode).toBe('M_NOT_FOUND');
      const authed = await send(fresh, 'GET', `${DOWNLOAD}/alpha.test/${mediaId}`, { token });
      expect(authed.status).toBe(200);
      // A streamed response can reach the client a moment before the server sees it finish;
      // closing the app in that moment keeps the keep-alive connection open (fastify closes
      // only idle ones), so a plain request goes last.
      expect((await send(fresh, 'GET', '/_matrix/client/v1/media/config', { token })).status).toBe(
        200,
      );
    } finally {
      await fresh.stop();
    }
  });

  it('enforces the tenant’s storage quota with 403 M_LIMIT_EXCEEDED, leaving nothing stored', async () => {
    const limited = await AccountServer.start({
      ...(await store.settings()),
      media_storage_quota_bytes: 100_000,
    });
    try {
      const carol = (await limited.createUser('carol', 'carol-password')).accessToken;
      const dave = (await limited.createUser('dave', 'dave-password')).accessToken;
      const first = await send(limited, 'POST', UPLOAD, {
        token: carol,
        body: randomBytes(60_000),
      });
      expect(first.status).toBe(200);
      const keys = await store.keys(limited.config);

      // The quota is the tenant's, not the user's: dave is refused too.
      const declared = await send(limited, 'POST', UPLOAD, {
        token: dave,
        body: randomBytes(60_000),
      });
      expect(declared.status).toBe(403);
      expect(declared.json.errcode).toBe('M_LIMIT_EXCEEDED');
      const streamed = await send(limited, 'POST', UPLOAD, {
        token: carol,
        body: chunked(randomBytes(60_000)),
      });
      expect(streamed.status).toBe(403);
      expect(streamed.json.errcode).toBe('M_LIMIT_EXCEEDED');
      expect(await store.keys(limited.config)).toEqual(keys);

      // What is left still fits, to the byte.
      const rest = await send(limited, 'POST', UPLOAD, { token: dave, body: randomBytes(40_000) });
      expect(rest.status).toBe(200);
      const full = await send(limited, 'POST', UPLOAD, { token: dave, body: randomBytes(1) });
      expect(full.status).toBe(403);
    } finally {
      await limited.stop();
    }
  });
});
