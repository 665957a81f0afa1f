import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FederationRequestError } from '../../src/services/federation/federation-contracts.js';
import { parseMultipartMedia } from '../../src/services/media/multipart-media.js';
import { selectRemoteMedia } from '../../src/storage/media/remote-media-records.js';
import type { AccountServer, Json } from '../helpers/account-server.js';
import { startFederationPair } from '../helpers/federation-pair.js';

/**
 * Media over federation between two real tenants over HTTP: alpha's user uploads, beta's user
 * downloads `mxc://alpha.test/…` through beta, which fetches it with the signed federation media
 * endpoint and caches it; thumbnails of remote media are made at beta from the cached original.
 */

const UPLOAD = '/_matrix/media/v3/upload';
const DOWNLOAD = '/_matrix/client/v1/media/download';
const THUMBNAIL = '/_matrix/client/v1/media/thumbnail';
const FEDERATION_DOWNLOAD = '/_matrix/federation/v1/media/download';

interface Reply {
  status: number;
  headers: Headers;
  bytes: Buffer;
  json: Json;
}

let alpha: AccountServer;
let beta: AccountServer;
let stop: () => Promise<void>;
let alphaToken: string;
let betaToken: string;

async function get(server: AccountServer, path: string, token?: string): Promise<Reply> {
  const response = await fetch(server.url + path, {
    headers: token === undefined ? {} : { Authorization: `Bearer ${token}` },
  });
  const bytes = Buffer.from(await response.arrayBuffer());
  const json = response.headers.get('content-type')?.startsWith('application/json')
    ? JSON.parse(bytes.toString('utf8'))
    : undefined;
  return { status: response.status, headers: response.headers, bytes, json };
}

/** Uploads at alpha; returns the media ID of `mxc://alpha.test/ID`. */
async function uploadAtAlpha(bytes: Buffer, contentType: string, fileName?: string) {
  const query = fileName === undefined ? '' : `?filename=${encodeURIComponent(fileName)}`;
  const response = await fetch(`${alpha.url}${UPLOAD}${query}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${alphaToken}`, 'Content-Type': contentType },
    body: bytes,
  });
  expect(response.status).toBe(200);
  const uri = ((await response.json()) as { content_uri: string }).content_uri;
  expect(uri.startsWith('mxc://alpha.test/')).toBe(true);
  return uri.slice('mxc://alpha.test/'.length);
}

async function forgetAtAlpha(mediaId: string): Promise<void> {
  await alpha.context.db.transact((trx) =>
    trx.deleteFrom('local_media').where('media_id', '=', mediaId).execute(),
  );
}

beforeAll(async () => {
  ({ alpha, beta, stop } = await startFederationPair());
  alphaToken = (await alpha.createUser('alice', 'password-alice')).accessToken;
  betaToken = (await beta.createUser('bob', 'password-bob')).accessToken;
}, 60_000);

afterAll(async () => {
  await stop?.();
});

describe('media over federation', () => {
  it('downloads another server’s media through the user’s server, then from its cache', async () => {
    const content = Buffer.from([0, 1, 2, 255, 254, 0x80, 0xc3, 0x28, ...Buffer.from('binary')]);
    const mediaId = await uploadAtAlpha(content, 'application/x-test', 'résumé.bin');

    const first = await get(beta, `${DOWNLOAD}/alpha.test/${mediaId}`, betaToken);
    expect(first.status).toBe(200);
    expect(first.bytes.equals(content)).toBe(true);
    expect(first.headers.get('content-type')).toBe('application/x-test');
    expect(first.headers.get('content-disposition')).toBe(
      "attachment; filename*=utf-8''r%C3%A9sum%C3%A9.bin",
    );
    const cached = await beta.context.db.read((db) => selectRemoteMedia(db, 'alpha.test', mediaId));
    expect(cached).toMatchObject({ size: content.length, uploadName: 'résumé.bin' });

    // Gone at alpha: beta still serves it, from its own store.
    await forgetAtAlpha(mediaId);
    expect((await get(alpha, `${DOWNLOAD}/alpha.test/${mediaId}`, alphaToken)).status).toBe(404);
    const second = await get(beta, `${DOWNLOAD}/alpha.test/${mediaId}/other.bin`, betaToken);
    expect(second.status).toBe(200);
    expect(second.bytes.equals(content)).toBe(true);
    expect(second.headers.get('content-disposition')).toBe('attachment; filename="other.bin"');
  });

  it('shares one fetch between concurrent downloads of the same media', async () => {
    const content = Buffer.from('shared fetch '.repeat(1000));
    const mediaId = await uploadAtAlpha(content, 'text/plain', 'notes.txt');
    const replies = await Promise.all(
      [1, 2, 3].map(() => get(beta, `${DOWNLOAD}/alpha.test/${mediaId}`, betaToken)),
    );
    for (const reply of replies) {
      expect(reply.status).toBe(200);
      expect(reply.bytes.equals(content)).toBe(true);
      expect(reply.headers.get('content-disposition')).toBe('inline; filename="notes.txt"');
    }
    const rows = await beta.context.db.read((db) =>
      db.selectFrom('remote_media_cache').selectAll().where('media_id', '=', mediaId).execute(),
    );
    expect(rows).toHaveLength(1);
  });

  it('thumbnails another server’s media from the cached original', async () => {
    const image = await sharp({
      create: { width: 640, height: 400, channels: 3, background: { r: 200, g: 30, b: 60 } },
    })
      .png()
      .toBuffer();
    const mediaId = await uploadAtAlpha(image, 'image/png', 'red.png');
    const thumbnail = await get(
      beta,
      `${THUMBNAIL}/alpha.test/${mediaId}?width=32&height=32&method=crop`,
      betaToken,
    );
    expect(thumbnail.status).toBe(200);
    expect(thumbnail.headers.get('content-type')).toBe('image/png');
    expect(thumbnail.headers.get('content-disposition')).toBe('inline; filename="thumbnail.png"');
    const metadata = await sharp(thumbnail.bytes).metadata();
    expect([metadata.width, metadata.height]).toEqual([32, 32]);

    // Another size, with alpha no longer having it: made at beta from its cache.
    await forgetAtAlpha(mediaId);
    const scaled = await get(
      beta,
      `${THUMBNAIL}/alpha.test/${mediaId}?width=300&height=200&method=scale`,
      betaToken,
    );
    expect(scaled.status).toBe(200);
    expect((await sharp(scaled.bytes).metadata()).width).toBe(320);
  });

  it('answers 404 for media the origin does not have, 502 when the origin cannot be reached', async () => {
    const unknown = await get(beta, `${DOWNLOAD}/alpha.test/${'x'.repeat(24)}`, betaToken);
    expect(unknown.status).toBe(404);
    expect(unknown.json.errcode).toBe('M_NOT_FOUND');
    const unknownThumbnail = await get(
      beta,
      `${THUMBNAIL}/alpha.test/${'y'.repeat(24)}?width=32&height=32`,
      betaToken,
    );
    expect(unknownThumbnail.status).toBe(404);
    const unreachable = await get(beta, `${DOWNLOAD}/nowhere.invalid/${'x'.repeat(24)}`, betaToken);
    expect(unreachable.status).toBe(502);
    expect(unreachable.json.errcode).toBe('M_UNKNOWN');
  });

  it('serves local media to signed requests only, as multipart/mixed', async () => {
    const content = Buffer.from([9, 8, 7, 0, 0xff, 13, 10, 45, 45]);
    const mediaId = await uploadAtAlpha(content, 'image/png', 'pixel.png');
    const answer = await beta.context.services.federation.binaryClient.requestBytes(
      'alpha.test',
      { method: 'GET', path: `${FEDERATION_DOWNLOAD}/${mediaId}` },
      1024 * 1024,
    );
    expect(answer.status).toBe(200);
    const contentType = String(answer.headers['content-type']);
    expect(contentType).toMatch(/^multipart\/mixed; boundary=/);
    const part = parseMultipartMedia(contentType, answer.body);
    expect(part.bytes.equals(content)).toBe(true);
    expect(part.headers['content-type']).toBe('image/png');
    expect(part.headers['content-disposition']).toBe('inline; filename="pixel.png"');
    // The first part is the JSON metadata, `{}`.
    expect(answer.body.toString('latin1')).toContain(
      'Content-Type: application/json\r\n\r\n{}\r\n',
    );

    const unsigned = await get(alpha, `${FEDERATION_DOWNLOAD}/${mediaId}`);
    expect(unsigned.status).toBe(401);
    expect(unsigned.json.errcode).toBe('M_UNAUTHORIZED');
    const unsignedThumbnail = await get(
      alpha,
      `/_matrix/federation/v1/media/thumbnail/${mediaId}?width=32&height=32`,
    );
    expect(unsignedThumbnail.status).toBe(401);

    const unknown = await beta.context.services.federation.binaryClient
      .requestBytes(
        'alpha.test',
        { method: 'GET', path: `${FEDERATION_DOWNLOAD}/${'z'.repeat(24)}` },
        1024,
      )
      .catch((error: unknown) => error);
    expect(unknown).toBeInstanceOf(FederationRequestError);
    expect(unknown).toMatchObject({ status: 404, errcode: 'M_NOT_FOUND' });
  });

  it('serves a federation thumbnail as multipart/mixed', async () => {
    const image = await sharp({
      create: { width: 500, height: 500, channels: 3, background: { r: 0, g: 90, b: 200 } },
    })
      .jpeg()
      .toBuffer();
    const mediaId = await uploadAtAlpha(image, 'image/jpeg');
    const answer = await beta.context.services.federation.binaryClient.requestBytes(
      'alpha.test',
      {
        method: 'GET',
        path: `/_matrix/federation/v1/media/thumbnail/${mediaId}`,
        query: { width: '96', height: '96', method: 'crop' },
      },
      1024 * 1024,
    );
    const part = parseMultipartMedia(String(answer.headers['content-type']), answer.body);
    expect(part.headers['content-type']).toBe('image/jpeg');
    expect(part.headers['content-disposition']).toBe('inline; filename="thumbnail.jpg"');
    const metadata = await sharp(part.bytes).metadata();
    expect([metadata.format, metadata.width, metadata.height]).toEqual(['jpeg', 96, 96]);
  });

  it('keeps the freeze of the deprecated endpoint, and the upload limit, for remote media', async () => {
    const content = Buffer.from('x'.repeat(5000));
    const mediaId = await uploadAtAlpha(content, 'text/plain');
    // Frozen (as new tenants are): the deprecated endpoint neither fetches nor serves it.
    beta.config = { ...beta.config, unauthenticated_media_freeze_ts: beta.clock.now() };
    await beta.restart();
    const legacy = await get(beta, `/_matrix/media/v3/download/alpha.test/${mediaId}`);
    expect(legacy.status).toBe(404);

    beta.config = {
      ...beta.config,
      unauthenticated_media_freeze_ts: undefined,
      max_upload_size_bytes: 1000,
    };
    await beta.restart();
    const small = await uploadAtAlpha(Buffer.from('small'), 'text/plain');
    const served = await get(beta, `/_matrix/media/v3/download/alpha.test/${small}`);
    expect(served.status).toBe(200);
    expect(served.bytes.toString()).toBe('small');
    const tooLarge = await get(beta, `${DOWNLOAD}/alpha.test/${mediaId}`, betaToken);
    expect(tooLarge.status).toBe(502);
    expect(tooLarge.json.errcode).toBe('M_TOO_LARGE');
  });
});
