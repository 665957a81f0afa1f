import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { choosePasswordSource, promptNewPassword, readPassword } from './read-password.js';

/** A fake terminal: what is "typed" goes to `input`; `shown()` is everything written back. */
function terminal() {
  const input = new PassThrough();
  const output = new PassThrough();
  let shown = '';
  output.on('data', (chunk: Buffer) => (shown += chunk.toString()));
  return { input, output, shown: () => shown };
}

/** Types `text` key by key once the prompt has been shown (as a person would). */
async function typeAfterPrompt(
  tty: ReturnType<typeof terminal>,
  prompt: string,
  text: string,
): Promise<void> {
  while (!tty.shown().includes(prompt)) await new Promise((resolve) => setTimeout(resolve, 1));
  tty.input.write(text);
}

describe('choosePasswordSource', () => {
  it('prefers a file, then stdin, then a prompt on a terminal', () => {
    expect(choosePasswordSource({ passwordFile: 'f' }, true)).toEqual({ kind: 'file', path: 'f' });
    expect(choosePasswordSource({ passwordStdin: true }, false)).toEqual({ kind: 'stdin' });
    expect(choosePasswordSource({}, true)).toEqual({ kind: 'prompt' });
  });

  it('refuses to guess when stdin is not a terminal, naming both options', () => {
    expect(() => choosePasswordSource({}, false)).toThrow(/--password-stdin.*--password-file/);
  });
});

describe('readPassword', () => {
  it('reads stdin whole, dropping one trailing newline only', async () => {
    for (const [given, expected] of [
      ['pw\n', 'pw'],
      ['pw\r\n', 'pw'],
      ['pw', 'pw'],
      ['pw\n\n', 'pw\n'],
      [' spaced pw ', ' spaced pw '],
    ]) {
      const input = new PassThrough();
      input.end(given);
      expect(await readPassword({ kind: 'stdin' }, { input, output: new PassThrough() })).toBe(
        expected,
      );
    }
  });

  it('reads a file, dropping its trailing newline', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'marina-pw-'));
    try {
      await writeFile(join(dir, 'pw'), 'from a file\n');
      const source = { kind: 'file', path: join(dir, 'pw') } as const;
      expect(
        await readPassword(source, { input: new PassThrough(), output: new PassThrough() }),
      ).toBe('from a file');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('promptNewPassword', () => {
  it('asks twice without echoing what is typed', async () => {
    const tty = terminal();
    const answer = promptNewPassword(tty);
    await typeAfterPrompt(tty, 'Password: ', 'hunter2\r');
    await typeAfterPrompt(tty, 'Confirm password: ', 'hunter2\r');
    expect(await answer).toBe('hunter2');
    expect(tty.shown()).toContain('Password: ');
    expect(tty.shown()).not.toContain('hunter2');
  });

  it('refuses two different answers', async () => {
    const tty = terminal();
    const answer = promptNewPassword(tty);
    await typeAfterPrompt(tty, 'Password: ', 'one\r');
    await typeAfterPrompt(tty, 'Confirm password: ', 'two\r');
    await expect(answer).rejects.toThrow('the passwords do not match');
  });

  it('stops on Ctrl-C and on end of input', async () => {
    const interrupted = terminal();
    const cancelled = promptNewPassword(interrupted);
    await typeAfterPrompt(interrupted, 'Password: ', 'half\x03');
    await expect(cancelled).rejects.toThrow('cancelled');

    const closed = terminal();
    const ended = promptNewPassword(closed);
    await typeAfterPrompt(closed, 'Password: ', '');
    closed.input.end();
    await expect(ended).rejects.toThrow('no password given');
  });
});
