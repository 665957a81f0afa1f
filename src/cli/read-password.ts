import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Writable, type Readable } from 'node:stream';

/**
 * Where a command reads a new password from. Never from an argument: it would land in shell
 * history and in `ps` for anyone on the machine to read.
 */
export type PasswordSource =
  { kind: 'file'; path: string } | { kind: 'stdin' } | { kind: 'prompt' };

/** `--password-file` or `--password-stdin`; with neither, a prompt if stdin is a terminal. */
export function choosePasswordSource(
  options: { passwordFile?: string; passwordStdin?: boolean },
  stdinIsTerminal: boolean,
): PasswordSource {
  if (options.passwordFile !== undefined) return { kind: 'file', path: options.passwordFile };
  if (options.passwordStdin === true) return { kind: 'stdin' };
  if (stdinIsTerminal) return { kind: 'prompt' };
  throw new Error(
    'standard input is not a terminal, so there is no one to ask for the password; ' +
      'pass it with --password-stdin (e.g. `printf %s "$PW" | marina user create …`) or --password-file FILE',
  );
}

export interface PasswordIo {
  input: Readable;
  /** Where prompts go (standard error, so that standard output holds only the result). */
  output: NodeJS.WritableStream;
}

/** Reads the password from its source: a file or stdin (one trailing newline dropped), or a prompt. */
export async function readPassword(source: PasswordSource, io: PasswordIo): Promise<string> {
  switch (source.kind) {
    case 'file':
      return withoutTrailingNewline(await readFile(source.path, 'utf8'));
    case 'stdin':
      return withoutTrailingNewline(await readAll(io.input));
    case 'prompt':
      return promptNewPassword(io);
  }
}

/** Asks twice without echo and insists both answers match. */
export async function promptNewPassword(io: PasswordIo): Promise<string> {
  // Readline echoes what is typed to its output; this one forwards only while not muted.
  let muted = false;
  const echo = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (!muted) io.output.write(chunk);
      callback();
    },
  });
  const rl = createInterface({ input: io.input, output: echo, terminal: true });
  const ask = (question: string) =>
    new Promise<string>((resolve, reject) => {
      const onClose = () => reject(new Error('no password given (input closed)'));
      rl.once('close', onClose);
      // Without a listener, readline would only pause on Ctrl-C and the prompt would hang.
      rl.once('SIGINT', () => {
        rl.off('close', onClose);
        io.output.write('\n');
        reject(new Error('cancelled'));
      });
      io.output.write(question);
      muted = true;
      rl.question('', (answer) => {
        muted = false;
        io.output.write('\n');
        rl.off('close', onClose);
        rl.removeAllListeners('SIGINT');
        resolve(answer);
      });
    });
  try {
    const password = await ask('Password: ');
    const again = await ask('Confirm password: ');
    if (password !== again) throw new Error('the passwords do not match');
    return password;
  } finally {
    muted = false;
    rl.close();
  }
}

async function readAll(input: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** `echo pw | …` and editors add a newline that is not part of the password. */
function withoutTrailingNewline(text: string): string {
  return text.replace(/\r?\n$/, '');
}
