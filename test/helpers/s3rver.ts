import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import S3rver from 's3rver';

/** s3rver's fixed credentials (it checks signatures against them). */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/**
 * A real S3 API (s3rver) on a free loopback port, in a temp directory, with an AWS SDK client
 * of its own so that tests check what landed in a bucket directly, not through Marina.
 */
export interface TestS3 {
  readonly endpoint: string;
  createBucket(name: string): Promise<void>;
  /** Every key in the bucket, sorted. */
  keys(bucket: string): Promise<string[]>;
  /** An object's bytes. */
  read(bucket: string, key: string): Promise<Buffer>;
  /** Connections open to s3rver right now (from any client). */
  openConnections(): Promise<number>;
  stop(): Promise<void>;
}

export async function startS3rver(): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), 'marina-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  // A client per use, destroyed after it: the test's own sockets never stay open to s3rver
  // (a test counts the connections Marina keeps).
  const withClient = async <T>(use: (client: S3Client) => Promise<T>): Promise<T> => {
    const client = new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: S3RVER_CREDENTIALS,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    try {
      return await use(client);
    } finally {
      client.destroy();
    }
  };
  return {
    endpoint,
    async createBucket(name) {
      await withClient((client) => client.send(new CreateBucketCommand({ Bucket: name })));
    },
    keys: (bucket) =>
      withClient(async (client) => {
        const keys: string[] = [];
        let token: string | undefined;
        do {
          const page = await client.send(
            new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }),
          );
          for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token !== undefined);
        return keys.sort();
      }),
    read: (bucket, key) =>
      withClient(async (client) => {
        const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return Buffer.from(await object.Body!.transformToByteArray());
      }),
    openConnections() {
      return new Promise((resolve, reject) =>
        server.httpServer!.getConnections((error, count) =>
          error ? reject(error) : resolve(count),
        ),
      );
    },
    async stop() {
      // Keep-alive sockets of other clients must not hold the close up.
      server.httpServer?.closeAllConnections();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
