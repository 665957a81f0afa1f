import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startController, type ControllerProcess } from '../helpers/controller-process.js';
import { runMarina } from '../helpers/marina-process.js';

/** `marina tenant create --media-store …`, with no controller running and through a running one. */

const S3_FLAGS = [
  '--media-store',
  's3',
  '--s3-bucket',
  'tenant-media',
  '--s3-endpoint',
  'http://127.0.0.1:9000',
  '--s3-region',
  'eu-west-1',
  '--s3-prefix',
  'media/',
  '--s3-force-path-style',
  '--s3-access-key-id',
  'AKID',
  '--s3-secret-access-key',
  'SECRET',
];

const S3_STORE = {
  kind: 's3',
  bucket: 'tenant-media',
  endpoint: 'http://127.0.0.1:9000',
  region: 'eu-west-1',
  prefix: 'media/',
  force_path_style: true,
  access_key_id: 'AKID',
  secret_access_key: 'SECRET',
};

async function storedConfig(dataDir: string, serverName: string) {
  return JSON.parse(await readFile(join(dataDir, 'tenants', serverName, 'tenant.json'), 'utf8'));
}

describe('marina tenant create --media-store, without a controller', () => {
  let dataDir: string;
  const marina = (args: string[]) => runMarina([...args, '--data-dir', dataDir]);

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'marina-media-cli-'));
  });

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps local media by default, frozen for unauthenticated downloads from creation', async () => {
    const before = Date.now();
    const created = await marina(['tenant', 'create', 'local.test', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const settings = JSON.parse(created.stdout);
    expect(settings.media_store).toEqual({
      kind: 'local',
      path: join(dataDir, 'tenants', 'local.test', 'media'),
    });
    expect(settings.unauthenticated_media_freeze_ts).toBeGreaterThanOrEqual(before);
    expect((await storedConfig(dataDir, 'local.test')).media_store).toEqual({
      kind: 'local',
      path: 'media',
    });
  });

  it('stores the S3 settings given by the flags', async () => {
    const created = await marina(['tenant', 'create', 's3.test', ...S3_FLAGS, '--json']);
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout).media_store).toEqual(S3_STORE);
    expect((await storedConfig(dataDir, 's3.test')).media_store).toEqual(S3_STORE);
    const shown = await marina(['tenant', 'show', 's3.test', '--json']);
    expect(JSON.parse(shown.stdout).media_store).toEqual(S3_STORE);
  });

  it('takes credentials from the environment when no keys are given', async () => {
    const created = await marina([
      'tenant',
      'create',
      'env.test',
      '--media-store',
      's3',
      '--s3-bucket',
      'env-media',
      '--s3-endpoint',
      'https://s3.eu-west-1.amazonaws.com',
      '--json',
    ]);
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout).media_store).toEqual({
      kind: 's3',
      bucket: 'env-media',
      endpoint: 'https://s3.eu-west-1.amazonaws.com',
      region: 'us-east-1',
      prefix: '',
      force_path_style: false,
    });
  });

  it('refuses incomplete or misplaced S3 flags and creates nothing', async () => {
    const cases = [
      [['--s3-bucket', 'b'], '--media-store s3'],
      [['--media-store', 's3', '--s3-bucket', 'b'], '--s3-endpoint'],
      [
        [
          '--media-store',
          's3',
          '--s3-bucket',
          'b',
          '--s3-endpoint',
          'http://x.test',
          '--s3-access-key-id',
          'A',
        ],
        'go together',
      ],
      [['--media-store', 's3', '--s3-bucket', 'b', '--s3-endpoint', 'not a url'], 'endpoint'],
    ] as const;
    for (const [flags, message] of cases) {
      const refused = await marina(['tenant', 'create', 'refused.test', ...flags]);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain(message);
    }
    const list = await marina(['tenant', 'list', '--json']);
    expect(
      JSON.parse(list.stdout).map((t: { server_name: string }) => t.server_name),
    ).not.toContain('refused.test');
  });
});

describe('marina tenant create --media-store, through a running controller', () => {
  let dataDir: string;
  let controller: ControllerProcess;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'marina-media-cli-controller-'));
    controller = await startController(dataDir, ['--shards', '1']);
  });

  afterAll(async () => {
    await controller?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('passes the S3 settings to the controller, which places the tenant', async () => {
    const created = await runMarina([
      'tenant',
      'create',
      's3.test',
      ...S3_FLAGS,
      '--json',
      '--data-dir',
      dataDir,
    ]);
    expect(created.code, created.stderr).toBe(0);
    const settings = JSON.parse(created.stdout);
    expect(settings.shard_id).not.toBeNull();
    expect(settings.media_store).toEqual(S3_STORE);
    expect((await storedConfig(dataDir, 's3.test')).media_store).toEqual(S3_STORE);

    const refused = await controller.api('POST', '/tenants', {
      server_name: 'bad.test',
      media_store: { kind: 's3', bucket: 'b' },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.errcode).toBe('M_INVALID_PARAM');
  });
});
