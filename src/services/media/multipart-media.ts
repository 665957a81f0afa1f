/**
 * The `multipart/mixed` answer of the federation media endpoints (server-server API, "Content
 * Repository"): exactly two parts, a JSON metadata part (`{}` today) and the media, either its
 * bytes with `Content-Type` and `Content-Disposition`, or a `Location` to fetch it from. Built as
 * a stream (the media is never held whole) and parsed from the bytes a fetch read.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

/** A multipart answer to send: its `Content-Type` (with the boundary), length and bytes. */
export interface MultipartBody {
  readonly contentType: string;
  readonly length: number;
  readonly body: Readable;
}

/** Wraps media (`size` bytes of `body`) as the two-part answer; its headers as given. */
export function multipartMedia(
  media: { readonly size: number; readonly body: Readable },
  mediaHeaders: Readonly<Record<string, string>>,
): MultipartBody {
  const boundary = randomBytes(16).toString('hex');
  const headerLines = Object.entries(mediaHeaders)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  const head = Buffer.from(
    `--${boundary}\r\nContent-Type: application/json\r\n\r\n{}\r\n` +
      `--${boundary}\r\n${headerLines}\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  async function* parts(): AsyncGenerator<Buffer> {
    yield head;
    for await (const chunk of media.body as AsyncIterable<Buffer>) yield chunk;
    yield tail;
  }
  return {
    contentType: `multipart/mixed; boundary=${boundary}`,
    length: head.length + media.size + tail.length,
    body: Readable.from(parts(), { objectMode: false }),
  };
}

/** The media part of a multipart answer: its headers (lower-case names) and bytes. */
export interface ParsedMediaPart {
  readonly headers: Readonly<Record<string, string>>;
  readonly bytes: Buffer;
}

/** The answer is not the two-part `multipart/mixed` the spec asks for. */
export class MultipartFormatError extends Error {
  override readonly name = 'MultipartFormatError';
}

/**
 * The second (media) part of a `multipart/mixed` answer whose `Content-Type` is `contentType`.
 * The first part must be JSON (its content is not used: it is always `{}` so far).
 */
export function parseMultipartMedia(contentType: string, body: Buffer): ParsedMediaPart {
  const boundary = boundaryOf(contentType);
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Buffer[] = [];
  // The first delimiter may follow a preamble; the others follow a CRLF that belongs to them.
  let start = body.indexOf(delimiter);
  if (start < 0) throw new MultipartFormatError('no multipart boundary in the answer');
  for (;;) {
    const afterDelimiter = start + delimiter.length;
    if (body.subarray(afterDelimiter, afterDelimiter + 2).toString('latin1') === '--') break;
    const next = body.indexOf(Buffer.from(`\r\n--${boundary}`), afterDelimiter);
    if (next < 0) throw new MultipartFormatError('the multipart answer is not closed');
    // The part starts after the delimiter line's CRLF (transport padding ignored).
    const lineEnd = body.indexOf('\r\n', afterDelimiter);
    if (lineEnd < 0 || lineEnd > next) throw new MultipartFormatError('bad multipart delimiter');
    parts.push(body.subarray(lineEnd + 2, next));
    start = next + 2;
  }
  if (parts.length !== 2) {
    throw new MultipartFormatError(`the answer has ${parts.length} parts, not 2`);
  }
  const metadata = splitPart(parts[0]!);
  if (!(metadata.headers['content-type'] ?? '').toLowerCase().startsWith('application/json')) {
    throw new MultipartFormatError('the first part is not JSON');
  }
  return splitPart(parts[1]!);
}

function boundaryOf(contentType: string): string {
  const [type, ...params] = contentType.split(';');
  if (type?.trim().toLowerCase() !== 'multipart/mixed') {
    throw new MultipartFormatError(
      `the answer is ${type?.trim() ?? 'untyped'}, not multipart/mixed`,
    );
  }
  for (const param of params) {
    const match = /^\s*boundary\s*=\s*(?:"([^"]+)"|([^\s;]+))\s*$/i.exec(param);
    if (match) return match[1] ?? match[2]!;
  }
  throw new MultipartFormatError('multipart/mixed without a boundary');
}

/** A part's header lines (up to the empty line) and its bytes. */
function splitPart(part: Buffer): ParsedMediaPart {
  if (part.subarray(0, 2).toString('latin1') === '\r\n') {
    return { headers: {}, bytes: part.subarray(2) };
  }
  const end = part.indexOf('\r\n\r\n');
  if (end < 0) throw new MultipartFormatError('a part has no end of headers');
  const headers: Record<string, string> = {};
  for (const line of part.subarray(0, end).toString('utf8').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new MultipartFormatError('bad part header');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, bytes: part.subarray(end + 4) };
}
