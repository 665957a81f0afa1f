/**
 * Identifier grammars (appendices: "Identifier Grammar") and the size limits that go with them.
 *
 * `parse*` functions throw `MatrixError('M_INVALID_PARAM')` naming what is wrong; `isValid*`
 * predicates never throw. Both take `unknown` so they can check values straight out of JSON.
 * Where the appendix says MUST we enforce it; its SHOULDs (lower-case server names, at most 230
 * characters, hostname label rules) are left to the code that creates identifiers, because
 * remote servers are allowed to ignore them and we must still accept their identifiers.
 */
import { MatrixError } from './errors.js';

export type ServerName = string & { readonly __brand: 'ServerName' };
export type UserId = string & { readonly __brand: 'UserId' };
export type RoomId = string & { readonly __brand: 'RoomId' };
export type EventId = string & { readonly __brand: 'EventId' };
export type RoomAlias = string & { readonly __brand: 'RoomAlias' };
/** A server signing key ID such as `ed25519:abc_123` (not device or cross-signing key IDs). */
export type KeyId = string & { readonly __brand: 'KeyId' };

/** User IDs, room IDs, room aliases and event IDs are each at most 255 bytes of UTF-8. */
export const MAX_IDENTIFIER_BYTES = 255;
/** A PDU in federation format, as canonical JSON, signatures included. */
export const MAX_PDU_BYTES = 65536;

/** Unpadded base64 of a SHA-256 hash: the opaque part of v3+ event IDs and v12+ room IDs. */
const HASH_ID_LENGTH = 43;

const DNS_NAME = /^[A-Za-z0-9.-]+$/;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const IPV6_CHARS = /^[0-9A-Fa-f:.]{2,45}$/;
const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;
const PORT = /^\d{1,5}$/;
const CURRENT_LOCALPART = /^[a-z0-9._=\-/+]+$/;
const COMPLIANT_LOCALPART = /^[\x21-\x7e]+$/;
// With the `u` flag a paired surrogate is one astral code point, so this finds only lone halves.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
const KEY_ID_PART = /^[A-Za-z0-9_]+$/;
const HASH_STANDARD = /^[A-Za-z0-9+/]{43}$/;
const HASH_URL_SAFE = /^[A-Za-z0-9_-]{43}$/;

// ---------------------------------------------------------------------------------------------
// Server names

export interface ServerNameParts {
  /** The hostname as written: IPv6 literals keep their brackets, as in a URL's `hostname`. */
  host: string;
  port?: number;
  kind: 'dns' | 'ipv4' | 'ipv6';
}

export function parseServerName(value: unknown): ServerName {
  const result = checkServerName(value);
  if (result instanceof Invalid) fail('server name', result);
  return value as ServerName;
}

export function isValidServerName(value: unknown): value is ServerName {
  return !(checkServerName(value) instanceof Invalid);
}

/** Splits a server name into host and optional port; throws if it is not a valid server name. */
export function serverNameParts(name: string): ServerNameParts {
  const result = checkServerName(name);
  if (result instanceof Invalid) fail('server name', result);
  return result;
}

// ---------------------------------------------------------------------------------------------
// User IDs

/**
 * Which localparts to accept:
 * - `current`: the grammar for new user IDs (`a-z 0-9 . _ = - / +`, non-empty);
 * - `compliant`: what the spec still calls compliant (non-empty, U+0021 to U+007E);
 * - `historical`: anything but `:`, NUL and lone surrogates, even empty — which servers MUST
 *   accept from events, because old rooms contain such senders.
 */
export type UserIdGrammar = 'current' | 'compliant' | 'historical';

export interface ParsedUserId {
  userId: UserId;
  localpart: string;
  serverName: ServerName;
}

export function parseUserId(value: unknown, grammar: UserIdGrammar = 'historical'): ParsedUserId {
  const result = checkUserId(value, grammar);
  if (result instanceof Invalid) fail('user ID', result);
  return result;
}

export function isValidUserId(
  value: unknown,
  grammar: UserIdGrammar = 'historical',
): value is UserId {
  return !(checkUserId(value, grammar) instanceof Invalid);
}

/** Whether a localpart may be used for a new user: the current grammar, `a-z 0-9 . _ = - / +`. */
export function isValidLocalpart(localpart: string): boolean {
  return CURRENT_LOCALPART.test(localpart);
}

// ---------------------------------------------------------------------------------------------
// Room IDs

export type ParsedRoomId =
  /** Room versions 1-11: `!opaque:server`. */
  | { roomId: RoomId; kind: 'domain'; opaque: string; serverName: ServerName }
  /** Room versions 12+: `!` and the URL-safe base64 reference hash of the create event. */
  | { roomId: RoomId; kind: 'hash'; hash: string };

export function parseRoomId(value: unknown): ParsedRoomId {
  const result = checkRoomId(value);
  if (result instanceof Invalid) fail('room ID', result);
  return result;
}

export function isValidRoomId(value: unknown): value is RoomId {
  return !(checkRoomId(value) instanceof Invalid);
}

// ---------------------------------------------------------------------------------------------
// Event IDs

/**
 * The event ID format of a room version: `domain` (`$opaque:server`, v1-2), `base64` (v3,
 * standard alphabet) or `base64url` (v4+, URL-safe alphabet).
 */
export type EventIdFormat = 'domain' | 'base64' | 'base64url';

export type ParsedEventId =
  | { eventId: EventId; kind: 'domain'; opaque: string; serverName: ServerName }
  /** A reference hash; an all-alphanumeric hash is valid in both base64 alphabets. */
  | { eventId: EventId; kind: 'hash'; hash: string };

/** Parses an event ID in any format, or only in `format` when given. */
export function parseEventId(value: unknown, format?: EventIdFormat): ParsedEventId {
  const result = checkEventId(value, format);
  if (result instanceof Invalid) fail('event ID', result);
  return result;
}

export function isValidEventId(value: unknown, format?: EventIdFormat): value is EventId {
  return !(checkEventId(value, format) instanceof Invalid);
}

// ---------------------------------------------------------------------------------------------
// Room aliases

export interface ParsedRoomAlias {
  alias: RoomAlias;
  localpart: string;
  serverName: ServerName;
}

export function parseRoomAlias(value: unknown): ParsedRoomAlias {
  const result = checkRoomAlias(value);
  if (result instanceof Invalid) fail('room alias', result);
  return result;
}

export function isValidRoomAlias(value: unknown): value is RoomAlias {
  return !(checkRoomAlias(value) instanceof Invalid);
}

// ---------------------------------------------------------------------------------------------
// Key IDs

export interface ParsedKeyId {
  keyId: KeyId;
  algorithm: string;
  version: string;
}

/** Parses a server signing key ID, `algorithm:version`, both parts `[A-Za-z0-9_]+`. */
export function parseKeyId(value: unknown): ParsedKeyId {
  const result = checkKeyId(value);
  if (result instanceof Invalid) fail('key ID', result);
  return result;
}

export function isValidKeyId(value: unknown): value is KeyId {
  return !(checkKeyId(value) instanceof Invalid);
}

// ---------------------------------------------------------------------------------------------
// Internals: each check returns the parsed value or an `Invalid`, so predicates need not throw.

class Invalid {
  constructor(readonly reason: string) {}
}

function fail(what: string, invalid: Invalid): never {
  throw new MatrixError('M_INVALID_PARAM', `Invalid ${what}: ${invalid.reason}`);
}

function checkServerName(value: unknown): ServerNameParts | Invalid {
  if (typeof value !== 'string') return new Invalid('not a string');
  if (value === '') return new Invalid('empty');

  let host: string;
  let rest: string;
  let kind: ServerNameParts['kind'];
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close < 0) return new Invalid('IPv6 literal has no closing "]"');
    host = value.slice(0, close + 1);
    rest = value.slice(close + 1);
    if (!isIpv6Address(value.slice(1, close))) return new Invalid('not a valid IPv6 literal');
    kind = 'ipv6';
  } else {
    // DNS names and IPv4 literals contain no ":", so the first one starts the port.
    const colon = value.indexOf(':');
    host = colon < 0 ? value : value.slice(0, colon);
    rest = colon < 0 ? '' : value.slice(colon);
    if (host === '') return new Invalid('hostname is empty');
    if (IPV4.test(host)) {
      // Digits-and-dots also match dns-name, but the appendix says IPv4 literals MUST be 0-255.
      if (!isIpv4Address(host)) return new Invalid('IPv4 literal has a number above 255');
      kind = 'ipv4';
    } else if (!DNS_NAME.test(host)) {
      return new Invalid('hostname may only contain A-Z, a-z, 0-9, "-" and "."');
    } else if (host.length > 255) {
      return new Invalid('DNS name is longer than 255 characters');
    } else {
      kind = 'dns';
    }
  }

  if (rest === '') return { host, kind };
  if (!rest.startsWith(':')) return new Invalid('unexpected characters after the IPv6 literal');
  const digits = rest.slice(1);
  if (!PORT.test(digits)) return new Invalid('port must be 1 to 5 digits');
  return { host, port: Number(digits), kind };
}

function isIpv4Address(text: string): boolean {
  const quad = IPV4.exec(text);
  return quad !== null && quad.slice(1).every((octet) => Number(octet) <= 255);
}

/** RFC 3513 section 2.2 text forms: eight groups, `::` compression, trailing dotted quad. */
function isIpv6Address(text: string): boolean {
  if (!IPV6_CHARS.test(text)) return false;
  let groups = text;
  if (text.includes('.')) {
    // A trailing dotted quad stands for the last two 16-bit groups.
    const lastColon = text.lastIndexOf(':');
    if (lastColon < 0 || !isIpv4Address(text.slice(lastColon + 1))) return false;
    groups = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = groups.split('::');
  const split = (part: string) => (part === '' ? [] : part.split(':'));
  if (halves.length === 1) {
    const all = split(groups);
    return all.length === 8 && all.every((group) => HEX_GROUP.test(group));
  }
  if (halves.length !== 2) return false; // "::" may appear only once
  const head = split(halves[0] ?? '');
  const tail = split(halves[1] ?? '');
  // "::" stands for at least one zero group.
  return head.length + tail.length <= 7 && [...head, ...tail].every((g) => HEX_GROUP.test(g));
}

/** Checks the sigil and the size limit shared by user IDs, room IDs, aliases and event IDs. */
function checkSigilAndSize(value: unknown, sigil: string): string | Invalid {
  if (typeof value !== 'string') return new Invalid('not a string');
  if (!value.startsWith(sigil)) return new Invalid(`must start with "${sigil}"`);
  if (Buffer.byteLength(value, 'utf8') > MAX_IDENTIFIER_BYTES) {
    return new Invalid(`longer than ${MAX_IDENTIFIER_BYTES} bytes`);
  }
  return value;
}

/** Splits `&localpart:server` at the first ":" (localparts never contain one). */
function splitAtServer(
  value: string,
): { localpart: string; serverName: ServerName } | Invalid | undefined {
  const colon = value.indexOf(':');
  if (colon < 0) return undefined;
  const server = checkServerName(value.slice(colon + 1));
  if (server instanceof Invalid) return new Invalid(`server name: ${server.reason}`);
  return { localpart: value.slice(1, colon), serverName: value.slice(colon + 1) as ServerName };
}

/** The opaque localpart rule shared by historical user IDs, room IDs, aliases and v1 event IDs. */
function opaqueLocalpartProblem(localpart: string): Invalid | undefined {
  if (localpart.includes('\0')) return new Invalid('localpart contains NUL');
  if (LONE_SURROGATE.test(localpart)) return new Invalid('localpart contains a lone surrogate');
  return undefined;
}

function checkUserId(value: unknown, grammar: UserIdGrammar): ParsedUserId | Invalid {
  const text = checkSigilAndSize(value, '@');
  if (text instanceof Invalid) return text;
  const parts = splitAtServer(text);
  if (parts === undefined) return new Invalid('no ":" before the server name');
  if (parts instanceof Invalid) return parts;
  const { localpart } = parts;
  if (grammar === 'current' && !CURRENT_LOCALPART.test(localpart)) {
    return new Invalid(
      localpart === ''
        ? 'localpart is empty'
        : 'localpart may only contain a-z, 0-9, ".", "_", "=", "-", "/" and "+"',
    );
  }
  if (grammar === 'compliant' && !COMPLIANT_LOCALPART.test(localpart)) {
    return new Invalid(
      localpart === ''
        ? 'localpart is empty'
        : 'localpart contains characters outside U+0021 to U+007E',
    );
  }
  const problem = opaqueLocalpartProblem(localpart);
  if (problem) return problem;
  return { userId: text as UserId, ...parts };
}

function checkRoomId(value: unknown): ParsedRoomId | Invalid {
  const text = checkSigilAndSize(value, '!');
  if (text instanceof Invalid) return text;
  const parts = splitAtServer(text);
  if (parts instanceof Invalid) return parts;
  if (parts === undefined) {
    const hash = text.slice(1);
    if (!HASH_URL_SAFE.test(hash)) {
      return new Invalid(
        `must be "!opaque:server" or "!" and ${HASH_ID_LENGTH} URL-safe base64 characters`,
      );
    }
    return { roomId: text as RoomId, kind: 'hash', hash };
  }
  const problem = opaqueLocalpartProblem(parts.localpart);
  if (problem) return problem;
  return {
    roomId: text as RoomId,
    kind: 'domain',
    opaque: parts.localpart,
    serverName: parts.serverName,
  };
}

function checkEventId(value: unknown, format: EventIdFormat | undefined): ParsedEventId | Invalid {
  const text = checkSigilAndSize(value, '$');
  if (text instanceof Invalid) return text;
  const parts = splitAtServer(text);
  if (parts instanceof Invalid) return parts;
  if (parts !== undefined) {
    if (format !== undefined && format !== 'domain') {
      return new Invalid(`expected a ${format} hash but found a server name`);
    }
    const problem = opaqueLocalpartProblem(parts.localpart);
    if (problem) return problem;
    return {
      eventId: text as EventId,
      kind: 'domain',
      opaque: parts.localpart,
      serverName: parts.serverName,
    };
  }
  if (format === 'domain') return new Invalid('no ":" before the server name');
  const hash = text.slice(1);
  const standard = HASH_STANDARD.test(hash);
  const urlSafe = HASH_URL_SAFE.test(hash);
  const ok =
    format === 'base64' ? standard : format === 'base64url' ? urlSafe : standard || urlSafe;
  if (!ok) {
    const alphabet =
      format === 'base64' ? 'the standard' : format === 'base64url' ? 'the URL-safe' : 'one';
    return new Invalid(
      `must be "$" and ${HASH_ID_LENGTH} characters of ${alphabet} base64 alphabet` +
        (format === undefined ? ', or "$opaque:server"' : ''),
    );
  }
  return { eventId: text as EventId, kind: 'hash', hash };
}

function checkRoomAlias(value: unknown): ParsedRoomAlias | Invalid {
  const text = checkSigilAndSize(value, '#');
  if (text instanceof Invalid) return text;
  const parts = splitAtServer(text);
  if (parts === undefined) return new Invalid('no ":" before the server name');
  if (parts instanceof Invalid) return parts;
  const problem = opaqueLocalpartProblem(parts.localpart);
  if (problem) return problem;
  return { alias: text as RoomAlias, ...parts };
}

function checkKeyId(value: unknown): ParsedKeyId | Invalid {
  if (typeof value !== 'string') return new Invalid('not a string');
  const colon = value.indexOf(':');
  if (colon < 0) return new Invalid('must be "algorithm:version"');
  const algorithm = value.slice(0, colon);
  const version = value.slice(colon + 1);
  if (!KEY_ID_PART.test(algorithm)) {
    return new Invalid('algorithm must be one or more of A-Z, a-z, 0-9 and "_"');
  }
  if (!KEY_ID_PART.test(version)) {
    return new Invalid('version must be one or more of A-Z, a-z, 0-9 and "_"');
  }
  return { keyId: value as KeyId, algorithm, version };
}
