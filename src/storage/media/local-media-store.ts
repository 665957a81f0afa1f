/**
 * Media in a local directory (the tenant's `media/` folder). An upload is written to a temporary
 * file under `.incoming/`, flushed to disk, then renamed into place: a reader sees the whole
 * object or none, even after a crash mid-upload.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { checkMediaKey, type MediaStore, type StoredMedia } from './media-store.js';

const INCOMING_DIR = '.incoming';

export class LocalMediaStore implements MediaStore {
  readonly kind = 'local';

  constructor(private readonly root: string) {}

  async put(key: string, body: Readable): Promise<void> {
    const path = this.pathOf(key);
    const incoming = join(this.root, INCOMING_DIR);
    await mkdir(incoming, { recursive: true });
    const temp = join(incoming, randomBytes(12).toString('hex'));
    try {
      await pipeline(body, createWriteStream(temp, { flags: 'wx', mode: 0o600 }));
      const file = await open(temp, 'r+');
      try {
        await file.sync();
      } finally {
        await file.close();
      }
      await mkdir(dirname(path), { recursive: true });
      await rename(temp, path);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  async get(key: string): Promise<StoredMedia | undefined> {
    const path = this.pathOf(key);
    const size = await this.stat(key);
    if (size === undefined) return undefined;
    return { size: size.size, body: createReadStream(path) };
  }

  async stat(key: string): Promise<{ size: number } | undefined> {
    try {
      const info = await stat(this.pathOf(key));
      return info.isFile() ? { size: info.size } : undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async close(): Promise<void> {}

  private pathOf(key: string): string {
    checkMediaKey(key);
    return join(this.root, ...key.split('/'));
  }
}
