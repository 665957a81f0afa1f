import { appendFile, mkdtemp, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LogFileTail } from './log-file-tail.js';

describe('LogFileTail', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  it('hands on complete new lines from the end it found, whole characters included', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'marina-tail-'));
    dirs.push(dir);
    const file = join(dir, 'shard-0.log');
    await appendFile(file, 'old line\n');
    const lines: string[] = [];
    const tail = await LogFileTail.follow(file, (line) => lines.push(line));
    await appendFile(file, '{"msg":"one"}\n{"msg":"tw');
    await expect.poll(() => lines).toEqual(['{"msg":"one"}']);
    // A character split across two writes (é is two bytes).
    await appendFile(file, Buffer.from([0x6f, 0xc3]));
    await appendFile(file, Buffer.concat([Buffer.from([0xa9]), Buffer.from('"}\nlast')]));
    await expect.poll(() => lines).toEqual(['{"msg":"one"}', '{"msg":"twoé"}']);
    await tail.close();
    // What was left without a newline comes out on close.
    expect(lines).toEqual(['{"msg":"one"}', '{"msg":"twoé"}', 'last']);
  });

  it('starts over when the file is truncated (copy-and-truncate rotation)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'marina-tail-'));
    dirs.push(dir);
    const file = join(dir, 'shard-0.log');
    const lines: string[] = [];
    const tail = await LogFileTail.follow(file, (line) => lines.push(line));
    await appendFile(file, 'a long line before the rotation\n');
    await expect.poll(() => lines).toHaveLength(1);
    await truncate(file, 0);
    await appendFile(file, 'after\n');
    await expect.poll(() => lines).toEqual(['a long line before the rotation', 'after']);
    await tail.close();
  });
});
