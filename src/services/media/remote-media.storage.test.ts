import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../../test/helpers/manual-clock.js';
import { openTestDatabaseConfig } from '../../../test/helpers/test-database.js';
import { generateSigningKey } from '../../protocol/signing-key.js';
import { openMediaStore } from '../../storage/media/open-media-store.js';
import { openTenantDatabase } from '../../storage/tenant-database.js';
import { FederationHttpClient } from '../federation/federation-http-client.js';
import { multipartMedia } from './multipart-media.js';
import { RemoteMedia, remoteStorageKeyOf } from './remote-media.js';
import { Readable } from 'node:stream';
import { selectRemoteMedia } from '../../storage/media/remote-media-records.js';
import {
  countThumbnails,
  upsertThumbnail,
  type ThumbnailKey,
} from '../../storage/media/thumbnail-records.js';
import { RemoteMediaEviction } from './remote-media-eviction.js';
import { thumbnailStorageKeyOf } from './thumbnail-service.js';

/**
 * `RemoteMedia` against a stand-in origin server (a plain HTTP server answering as a homeserver
 * would), through the real federation client: one fetch for concurrent requests, the fallback to
 * the deprecated download for servers without the federation media endpoint, the size limit;
 * and `RemoteMediaEviction` of what was not served for the lifetime.
 */

const MEDIA_ID = 'abcdefghijklmnopqrstuvwx';
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function setUp(handler: Handler, maxBytes = 1000) {
  const origin = createServer(handler);
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const port = (origin.address() as AddressInfo).port;
  const test = await openTestDatabaseConfig();
  const db = await openTenantDatabase(test.config, { serverName: 'a.test' });
  const dir = await mkdtemp(join(tmpdir(), 'marina-remote-media-'));
  const store = openMediaStore({ kind: 'local', path: dir });
  cleanups.push(async () => {
    await new Promise((resolve) => origin.close(resolve));
    await store.close();
    await db.close();
    await test.cleanup();
    await rm(dir, { recursive: true, force: true });
  });
  const logger = pino({ level: 'silent' });
  const client = new FederationHttpClient({
    serverName: 'a.test',
    signingKey: generateSigningKey(),
    logger,
    plainHttp: { 'b.test': `127.0.0.1:${port}` },
  });
  const clock = new ManualClock();
  const remote = new RemoteMedia({ db, store, clock, logger, client, maxBytes });
  return { remote, store, db, clock, logger };
}

function answerMultipart(res: ServerResponse, bytes: Buffer, headers: Record<string, string>) {
  const multipart = multipartMedia({ size: bytes.length, body: Readable.from([bytes]) }, headers);
  res.writeHead(200, {
    'content-type': multipart.contentType,
    'content-length': multipart.length,
  });
  multipart.body.pipe(res);
}

function answerError(res: ServerResponse, status: number, errcode: string) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ errcode, error: errcode }));
}

describe('remote media', () => {
  it('shares one signed fetch between concurrent requests and caches the bytes', async () => {
    const requests: IncomingMessage[] = [];
    const bytes = Buffer.from('hello from b');
    const { remote, store } = await setUp((req, res) => {
      requests.push(req);
      // Answer late, so that all three requests are waiting for the same fetch.
      setTimeout(
        () =>
          answerMultipart(res, bytes, {
            'Content-Type': 'text/plain',
            'Content-Disposition': 'inline; filename="hello.txt"',
          }),
        50,
      );
    });
    const records = await Promise.all(
      [1, 2, 3].map(() => remote.resolve('b.test', MEDIA_ID, { timeoutMs: 1000 })),
    );
    expect(requests).toHaveLength(1);
    expect(requests[0]!.url).toBe(
      `/_matrix/federation/v1/media/download/${MEDIA_ID}?timeout_ms=1000`,
    );
    expect(requests[0]!.headers.authorization).toMatch(/^X-Matrix origin="a.test"/);
    expect(new Set(records.map((record) => record.cacheId)).size).toBe(1);
    expect(records[0]).toMatchObject({
      contentType: 'text/plain',
      uploadName: 'hello.txt',
      size: 12,
    });
    const stored = await store.get(remoteStorageKeyOf(records[0]!.cacheId));
    expect(stored?.size).toBe(12);
    stored?.body.destroy();
    // Cached: no second fetch.
    await remote.resolve('b.test', MEDIA_ID, { timeoutMs: 1000 });
    expect(requests).toHaveLength(1);
  });

  it('falls back to the deprecated download of servers without the federation endpoint', async () => {
    const paths: string[] = [];
    const { remote } = await setUp((req, res) => {
      paths.push(req.url ?? '');
      if (req.url?.startsWith('/_matrix/federation/')) {
        answerError(res, 404, 'M_UNRECOGNIZED');
        return;
      }
      res.writeHead(200, {
        'content-type': 'image/png',
        'content-disposition': "inline; filename*=utf-8''%C3%A9t%C3%A9.png",
      });
      res.end(Buffer.from([1, 2, 3]));
    });
    const record = await remote.resolve('b.test', MEDIA_ID, { timeoutMs: 500 });
    expect(record).toMatchObject({ contentType: 'image/png', uploadName: 'été.png', size: 3 });
    expect(paths[1]).toBe(
      `/_matrix/media/v3/download/b.test/${MEDIA_ID}?timeout_ms=500&allow_remote=false`,
    );
  });

  it('maps the origin’s answers: 404, 504 M_NOT_YET_UPLOADED, too large, broken', async () => {
    const answers: Handler[] = [
      (_req, res) => answerError(res, 404, 'M_NOT_FOUND'),
      (_req, res) => answerError(res, 504, 'M_NOT_YET_UPLOADED'),
      (_req, res) => answerMultipart(res, Buffer.alloc(2000), { 'Content-Type': 'text/plain' }),
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      },
    ];
    let next = 0;
    const { remote } = await setUp((req, res) => answers[next++]!(req, res));
    const outcomes = [];
    for (let i = 0; i < answers.length; i++) {
      outcomes.push(
        await remote
          .resolve('b.test', MEDIA_ID, { timeoutMs: 100 })
          .catch((error: unknown) => error),
      );
    }
    expect(outcomes).toMatchObject([
      { errcode: 'M_NOT_FOUND', status: 404 },
      { errcode: 'M_NOT_YET_UPLOADED', status: 504 },
      { errcode: 'M_TOO_LARGE', status: 502 },
      { errcode: 'M_UNKNOWN', status: 502 },
    ]);
  });

  describe('eviction', () => {
    const DAY = 24 * 60 * 60_000;

    async function cachedOrigin() {
      let fetches = 0;
      const bytes = Buffer.from('cached from b');
      const setup = await setUp((_req, res) => {
        fetches += 1;
        answerMultipart(res, bytes, { 'Content-Type': 'image/gif' });
      });
      const eviction = new RemoteMediaEviction({ ...setup, lifetimeDays: 90 });
      cleanups.push(() => eviction.stop());
      return { ...setup, eviction, fetches: () => fetches };
    }

    it('evicts an entry not served for the lifetime (record, bytes, thumbnails); the next download fetches it again', async () => {
      const { remote, store, db, clock, eviction, fetches } = await cachedOrigin();
      const first = await remote.resolve('b.test', MEDIA_ID, { timeoutMs: 1000 });
      // A cached thumbnail of it, as ThumbnailService keeps them (under the cache ID).
      const key: ThumbnailKey = { width: 32, height: 32, method: 'crop', animated: true };
      const thumbnailKey = thumbnailStorageKeyOf(first.cacheId, key);
      await store.put(thumbnailKey, Readable.from([Buffer.from('thumb')]), {
        contentType: 'image/webp',
      });
      await db.transact((trx) =>
        upsertThumbnail(trx, {
          mediaId: first.cacheId,
          ...key,
          contentType: 'image/webp',
          size: 5,
          createdTs: clock.now(),
        }),
      );

      clock.advance(89 * DAY);
      expect(await eviction.run()).toBe(0);
      clock.advance(2 * DAY);
      expect(await eviction.run()).toBe(1);
      expect(await db.read((r) => selectRemoteMedia(r, 'b.test', MEDIA_ID))).toBeUndefined();
      expect(await store.stat(remoteStorageKeyOf(first.cacheId))).toBeUndefined();
      expect(await store.stat(thumbnailKey)).toBeUndefined();
      expect(await db.read((r) => countThumbnails(r, first.cacheId))).toBe(0);

      expect(fetches()).toBe(1);
      const again = await remote.resolve('b.test', MEDIA_ID, { timeoutMs: 1000 });
      expect(fetches()).toBe(2);
      expect(again.cacheId).not.toBe(first.cacheId);
      expect(again.fetchedTs).toBe(clock.now());
      expect((await store.stat(remoteStorageKeyOf(again.cacheId)))?.size).toBe(13);
    });

    it('keeps an entry served within the lifetime; its access time is written at most hourly', async () => {
      const { remote, db, clock, eviction, fetches } = await cachedOrigin();
      const fetched = await remote.resolve('b.test', MEDIA_ID, { timeoutMs: 1000 });
      const lastAccess = async () =>
        (await db.read((r) => selectRemoteMedia(r, 'b.test', MEDIA_ID)))?.lastAccessTs;
      // Served again within the hour: the stored time does not move.
      clock.advance(30 * 60_000);
      await remote.resolve('b.test', MEDIA_ID, { timeoutMs: 1000 });
      expect(await lastAccess()).toBe(fetched.fetchedTs);
      // Served 60 days later: recorded, so 100 days after the fetch it is only 40 days unused.
      clock.advance(60 * DAY);
      await remote.resolve('b.test', MEDIA_ID, { timeoutMs: 1000 });
      expect(await lastAccess()).toBe(clock.now());
      clock.advance(40 * DAY);
      expect(await eviction.run()).toBe(0);
      await remote.resolve('b.test', MEDIA_ID, { timeoutMs: 1000 });
      expect(fetches()).toBe(1);
    });

    it('runs a pass when started, then on its own timer, until stopped', async () => {
      const { remote, db, clock, logger, store } = await cachedOrigin();
      const cached = () => db.read((r) => selectRemoteMedia(r, 'b.test', MEDIA_ID));
      await remote.resolve('b.test', MEDIA_ID, { timeoutMs: 1000 });
      clock.advance(91 * DAY);
      const eviction = new RemoteMediaEviction({ db, store, clock, logger, intervalMs: 20 });
      eviction.start();
      // The pass at start.
      await vi.waitFor(async () => expect(await cached()).toBeUndefined());
      // A later pass, on the timer.
      await remote.resolve('b.test', MEDIA_ID, { timeoutMs: 1000 });
      clock.advance(91 * DAY);
      await vi.waitFor(async () => expect(await cached()).toBeUndefined());
      // Stopped: no more passes.
      await eviction.stop();
      await remote.resolve('b.test', MEDIA_ID, { timeoutMs: 1000 });
      clock.advance(91 * DAY);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await cached()).toBeDefined();
    });
  });
});
