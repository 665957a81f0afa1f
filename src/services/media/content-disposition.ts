/**
 * The headers media is served with (spec: "Serving inline content", "Security considerations").
 * Content the browser could run (HTML, SVG, JavaScript…) is never `inline`: only the spec's list
 * of types is, everything else is an `attachment`; and every response carries a sandboxing CSP.
 */

/** The spec's list of types safe to serve `inline` (client-server API, "Serving inline content"). */
const INLINE_TYPES = new Set([
  'text/css',
  'text/plain',
  'text/csv',
  'application/json',
  'application/ld+json',
  'image/jpeg',
  'image/gif',
  'image/png',
  'image/apng',
  'image/webp',
  'image/avif',
  'video/mp4',
  'video/webm',
  'video/ogg',
  'video/quicktime',
  'audio/mp4',
  'audio/webm',
  'audio/aac',
  'audio/mpeg',
  'audio/ogg',
  'audio/wave',
  'audio/wav',
  'audio/x-wav',
  'audio/x-pn-wav',
  'audio/flac',
  'audio/x-flac',
]);

export const MEDIA_CONTENT_SECURITY_POLICY =
  "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; " +
  "style-src 'unsafe-inline'; media-src 'self'; object-src 'self';";

/** Whether content of this type may be served `inline` (its parameters are ignored). */
export function isInlineSafe(contentType: string): boolean {
  const essence = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return INLINE_TYPES.has(essence);
}

/**
 * `Content-Disposition` for content of `contentType` with an optional file name (RFC 6266): a
 * plain quoted `filename` when the name is printable ASCII without quotes or backslashes,
 * otherwise `filename*` in UTF-8 with percent-encoding (RFC 8187).
 */
export function contentDisposition(contentType: string, fileName: string | null): string {
  const disposition = isInlineSafe(contentType) ? 'inline' : 'attachment';
  if (fileName === null || fileName === '') return disposition;
  if (/^[\x20-\x7e]*$/.test(fileName) && !/["\\]/.test(fileName)) {
    return `${disposition}; filename="${fileName}"`;
  }
  return `${disposition}; filename*=utf-8''${encodeRfc8187(fileName)}`;
}

/** Percent-encodes everything but RFC 8187's `attr-char`. */
function encodeRfc8187(value: string): string {
  return encodeURIComponent(value).replace(
    /['()*]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * The file name of a `Content-Disposition` (another server's media): `filename*` (RFC 8187,
 * UTF-8) preferred over `filename`; null when there is none or it cannot be decoded.
 */
export function fileNameOfDisposition(header: string | undefined): string | null {
  if (header === undefined) return null;
  const extended = /(?:^|;)\s*filename\*\s*=\s*utf-8'[^']*'([^;\s]+)/i.exec(header);
  if (extended) {
    try {
      return decodeURIComponent(extended[1]!);
    } catch {
      return null;
    }
  }
  const plain = /(?:^|;)\s*filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i.exec(header);
  if (!plain) return null;
  return plain[1] !== undefined ? plain[1].replace(/\\(.)/g, '$1') : plain[2]!;
}
