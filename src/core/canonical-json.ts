/**
 * Canonical JSON (appendices: "Canonical JSON"): keys sorted by Unicode code point, no
 * insignificant whitespace, integers only in [-(2^53)+1, 2^53-1], UTF-8 as output.
 */

export type JsonValue =
  null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export const MAX_SAFE_INTEGER = Number.MAX_SAFE_INTEGER; // 2^53 - 1
export const MIN_SAFE_INTEGER = Number.MIN_SAFE_INTEGER; // -(2^53) + 1

// With the `u` flag a paired surrogate is one astral code point, so this finds only lone halves.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

export class CanonicalJsonError extends TypeError {
  constructor(message: string) {
    super(message);
    this.name = 'CanonicalJsonError';
  }
}

/** Compares strings by Unicode code point (JS's default sort compares UTF-16 code units). */
export function compareCodePoints(a: string, b: string): number {
  const left = a[Symbol.iterator]();
  const right = b[Symbol.iterator]();
  for (;;) {
    const l = left.next();
    const r = right.next();
    if (l.done) return r.done ? 0 : -1;
    if (r.done) return 1;
    const diff = (l.value.codePointAt(0) ?? 0) - (r.value.codePointAt(0) ?? 0);
    if (diff !== 0) return diff;
  }
}

/** Serialises a value as canonical JSON; throws `CanonicalJsonError` for values outside it. */
export function canonicalJson(value: unknown): string {
  return write(value, '$');
}

/** Canonical JSON as UTF-8 bytes: what signatures and hashes are computed over. */
export function canonicalJsonBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}

function write(value: unknown, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return writeString(value, path);
    case 'number':
      if (!Number.isInteger(value)) throw new CanonicalJsonError(`${path}: not an integer`);
      if (value > MAX_SAFE_INTEGER || value < MIN_SAFE_INTEGER) {
        throw new CanonicalJsonError(`${path}: integer out of range`);
      }
      return Object.is(value, -0) ? '0' : String(value);
    case 'object': {
      if (Array.isArray(value)) {
        return `[${value.map((item, i) => write(item, `${path}[${i}]`)).join(',')}]`;
      }
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record)
        .filter((key) => record[key] !== undefined)
        .sort(compareCodePoints);
      const members = keys.map(
        (key) => `${writeString(key, `${path}.${key}`)}:${write(record[key], `${path}.${key}`)}`,
      );
      return `{${members.join(',')}}`;
    }
    default:
      throw new CanonicalJsonError(`${path}: ${typeof value} is not JSON`);
  }
}

/**
 * JSON.stringify escapes exactly what the grammar allows (\b \t \n \f \r \" \\ and \u00XX in
 * lower case for other controls) except lone surrogates, which it writes as `\udXXX`: the grammar
 * has no such escape and UTF-8 cannot encode them, so such strings have no canonical form.
 */
function writeString(value: string, path: string): string {
  if (LONE_SURROGATE.test(value)) {
    throw new CanonicalJsonError(`${path}: string contains a lone surrogate`);
  }
  return JSON.stringify(value);
}
