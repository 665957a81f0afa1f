import { open, type FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';

/**
 * Follows a shard's log file and hands each complete new line on, as `tail -f` would: the
 * shards a controller may leave running write their logs to a file (a pipe would break when
 * the controller dies), and the controller passes them through to its own output while it runs.
 */

const POLL_MS = 200;
/** Bytes read per poll at most, so a burst of logs never blocks the loop for long. */
const CHUNK_BYTES = 256 * 1024;

export class LogFileTail {
  private offset: number;
  private partial = '';
  /** Keeps a character split across two reads whole. */
  private readonly decoder = new StringDecoder('utf8');
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  private handle: FileHandle | undefined;
  private closed = false;

  private constructor(
    private readonly path: string,
    startAt: number,
    private readonly onLine: (line: string) => void,
  ) {
    this.offset = startAt;
  }

  /** Follows `path` from its current end (`fromStart`: from its first byte). */
  static async follow(
    path: string,
    onLine: (line: string) => void,
    options: { fromStart?: boolean } = {},
  ): Promise<LogFileTail> {
    const handle = await open(path, 'a+');
    const size = options.fromStart ? 0 : (await handle.stat()).size;
    const tail = new LogFileTail(path, size, onLine);
    tail.handle = handle;
    tail.schedule();
    return tail;
  }

  /** Reads what is left, then stops. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    await this.reading;
    await this.readNew().catch(() => {});
    if (this.partial !== '') this.onLine(this.partial);
    await this.handle?.close();
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.reading = this.readNew()
        .catch(() => {})
        .finally(() => {
          this.reading = undefined;
          this.schedule();
        });
    }, POLL_MS);
  }

  private async readNew(): Promise<void> {
    const handle = this.handle;
    if (handle === undefined) return;
    // Truncated (copy-and-truncate rotation): start over from its beginning.
    if ((await handle.stat()).size < this.offset) this.offset = 0;
    for (;;) {
      const buffer = Buffer.alloc(CHUNK_BYTES);
      const { bytesRead } = await handle.read(buffer, 0, CHUNK_BYTES, this.offset);
      if (bytesRead === 0) return;
      this.offset += bytesRead;
      const lines = (this.partial + this.decoder.write(buffer.subarray(0, bytesRead))).split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) if (line !== '') this.onLine(line);
      if (bytesRead < CHUNK_BYTES) return;
    }
  }

  get file(): string {
    return this.path;
  }
}
