/**
 * Measures an upload as it streams through: counts its bytes, hashes them (SHA-256), and fails
 * the stream as soon as it passes its limit, so an oversized upload is stopped while it streams
 * (the store then discards what it wrote) rather than after it is stored.
 */
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/** The stream passed the meter's limit. */
export class ByteLimitExceeded extends Error {
  constructor(readonly limit: number) {
    super(`the upload is larger than ${limit} bytes`);
    this.name = 'ByteLimitExceeded';
  }
}

export class ByteMeter extends Transform {
  private readonly hash = createHash('sha256');
  private count = 0;

  constructor(private readonly limit: number) {
    super();
  }

  /** Bytes seen so far (all of them, once the stream has ended). */
  get bytes(): number {
    return this.count;
  }

  /** Hex SHA-256 of the bytes; call once the stream has ended. */
  sha256(): string {
    return this.hash.digest('hex');
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.count += chunk.length;
    if (this.count > this.limit) {
      done(new ByteLimitExceeded(this.limit));
      return;
    }
    this.hash.update(chunk);
    done(null, chunk);
  }
}
