import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import {
  createServer,
  request,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMarina, type MarinaProcess } from '../helpers/marina-process.js';
import { PlacementServerForTests } from '../helpers/placement-server-for-tests.js';

/**
 * Large bodies through a real `marina router` process, both ways, against a stand-in shard that
 * reads or writes slowly on command: the router streams with back-pressure and never holds a
 * whole body (checked on the client's side of the router, and on the router's peak memory).
 */

const MiB = 1024 * 1024;
const TOTAL = 100 * MiB;
const CHUNK = 64 * 1024;

/** Chunk `index` of the test body: distinct per chunk, so a lost or reordered chunk shows. */
function chunkOf(index: number, size = CHUNK): Buffer {
  const chunk = Buffer.alloc(size, index % 251);
  chunk.writeUInt32BE(index >>> 0, 0);
  return chunk;
}

/** Writes `total` bytes of the test body to a stream, waiting on back-pressure; counts them. */
async function pump(
  out: NodeJS.WritableStream & { write(chunk: Buffer): boolean },
  total: number,
  progress: { accepted: number },
): Promise<string> {
  const hash = createHash('sha256');
  for (let index = 0; progress.accepted < total; index += 1) {
    const chunk = chunkOf(index, Math.min(CHUNK, total - progress.accepted));
    hash.update(chunk);
    progress.accepted += chunk.length;
    if (!out.write(chunk)) await once(out, 'drain');
  }
  return hash.digest('hex');
}

/** Waits until `read()` stops changing for `quietMs`; returns its last value. */
async function plateau(read: () => number, quietMs = 600, timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = read();
  let since = Date.now();
  while (Date.now() - since < quietMs) {
    if (Date.now() > deadline) throw new Error('still moving');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const now = read();
    if (now !== last) {
      last = now;
      since = Date.now();
    }
  }
  return last;
}

/** Resident memory of a process, now and at its peak (Linux /proc). */
async function memoryOf(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) =>
    Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1]) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** A stand-in shard whose reading and writing the test holds back. */
class SlowShard {
  uploadRead = 0;
  downloadAccepted = 0;
  downloadHash = '';
  private releaseUpload: (() => void) | undefined;
  private constructor(private readonly server: Server) {}

  static async start(): Promise<SlowShard> {
    const server = createServer();
    const shard = new SlowShard(server);
    server.on('request', (req, res) => void shard.handle(req, res));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return shard;
  }

  get url(): string {
    const address = this.server.address();
    return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }

  resumeUpload(): void {
    this.releaseUpload?.();
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.url === '/upload') {
      // Reads 1 MiB, then nothing until the test says so.
      const held = new Promise<void>((resolve) => (this.releaseUpload = resolve));
      const hash = createHash('sha256');
      this.uploadRead = 0;
      for await (const chunk of req as AsyncIterable<Buffer>) {
        hash.update(chunk);
        this.uploadRead += chunk.length;
        if (this.uploadRead >= MiB) await held;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ bytes: this.uploadRead, sha256: hash.digest('hex') }));
      return;
    }
    if (req.url === '/download') {
      this.downloadAccepted = 0;
      res.writeHead(200, {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(TOTAL),
      });
      const progress = { accepted: 0 };
      const timer = setInterval(() => (this.downloadAccepted = progress.accepted), 20);
      const sha256 = await pump(res, TOTAL, progress);
      clearInterval(timer);
      this.downloadAccepted = progress.accepted;
      res.end();
      this.downloadHash = sha256;
      return;
    }
    res.writeHead(404).end();
  }
}

describe('marina router streaming', () => {
  let dir: string;
  let shard: SlowShard;
  let placement: PlacementServerForTests;
  let router: MarinaProcess;
  let routerPort: number;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'marina-router-streaming-'));
    shard = await SlowShard.start();
    await writeFile(join(dir, 'token'), 'stream-token');
    placement = await PlacementServerForTests.start('stream-token', [
      { server_name: 'media.test', shard_id: 'slow', traffic_url: shard.url },
    ]);
    router = await startMarina([
      'router',
      '--listen',
      '127.0.0.1:0',
      '--controller',
      placement.url,
      '--token-file',
      join(dir, 'token'),
    ]);
    routerPort = Number(new URL(router.url).port);
  });

  afterAll(async () => {
    await router?.stop();
    await placement?.stop();
    await shard?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('streams a 100 MiB upload with back-pressure, intact, without holding it', async () => {
    const before = await memoryOf(router.child.pid!);
    const client = request({
      hostname: '127.0.0.1',
      port: routerPort,
      method: 'PUT',
      path: '/upload',
      headers: {
        Host: 'media.test',
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(TOTAL),
      },
    });
    const response = once(client, 'response') as Promise<[IncomingMessage]>;
    const progress = { accepted: 0 };
    const sent = pump(client, TOTAL, progress).then((sha256) => {
      client.end();
      return sha256;
    });

    // The shard stops reading after 1 MiB: the client must soon be unable to send more.
    // (What the client got out is what the kernel's socket buffers on the way hold: a few MiB.)
    const stalledAt = await plateau(() => progress.accepted);
    expect(shard.uploadRead).toBeLessThan(4 * MiB);
    expect(stalledAt).toBeLessThan(TOTAL / 4);
    const stalled = await memoryOf(router.child.pid!);
    expect(stalled.rss - before.rss).toBeLessThan(32 * MiB);

    shard.resumeUpload();
    const [res] = await response;
    let text = '';
    for await (const chunk of res) text += chunk;
    const result = JSON.parse(text) as { bytes: number; sha256: string };
    expect(result).toEqual({ bytes: TOTAL, sha256: await sent });

    const after = await memoryOf(router.child.pid!);
    // Chunks that went through are garbage until the next collection; the whole body held at
    // once would add at least TOTAL.
    expect(after.peak - before.rss).toBeLessThan(0.9 * TOTAL);
  });

  it('streams a 100 MiB download with back-pressure from a slow client, intact', async () => {
    const before = await memoryOf(router.child.pid!);
    const client = request({
      hostname: '127.0.0.1',
      port: routerPort,
      path: '/download',
      headers: { Host: 'media.test' },
    });
    client.end();
    const [res] = (await once(client, 'response')) as [IncomingMessage];
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-length']).toBe(String(TOTAL));
    res.pause();

    // The client reads nothing: the shard must soon be unable to write more.
    const stalledAt = await plateau(() => shard.downloadAccepted);
    expect(stalledAt).toBeLessThan(TOTAL / 4);
    const stalled = await memoryOf(router.child.pid!);
    expect(stalled.rss - before.rss).toBeLessThan(32 * MiB);

    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of res as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytes += chunk.length;
    }
    expect(bytes).toBe(TOTAL);
    expect(hash.digest('hex')).toBe(shard.downloadHash);
    const after = await memoryOf(router.child.pid!);
    // Chunks that went through are garbage until the next collection; the whole body held at
    // once would add at least TOTAL.
    expect(after.peak - before.rss).toBeLessThan(0.9 * TOTAL);
  });
});
