import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { ByteLimitExceeded, ByteMeter } from './byte-meter.js';

async function drain(chunks: Buffer[], meter: ByteMeter): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks),
    meter,
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        out.push(chunk);
        done();
      },
    }),
  );
  return Buffer.concat(out);
}

describe('ByteMeter', () => {
  it('passes the bytes through, counts and hashes them', async () => {
    const chunks = [Buffer.from('hello '), Buffer.from('world')];
    const meter = new ByteMeter(11);
    expect((await drain(chunks, meter)).toString()).toBe('hello world');
    expect(meter.bytes).toBe(11);
    expect(meter.sha256()).toBe(createHash('sha256').update('hello world').digest('hex'));
  });

  it('fails as soon as the stream passes the limit', async () => {
    const meter = new ByteMeter(8);
    const failure = drain([Buffer.from('12345'), Buffer.from('6789'), Buffer.from('x')], meter);
    await expect(failure).rejects.toBeInstanceOf(ByteLimitExceeded);
    expect(meter.bytes).toBe(9);
  });
});
