/**
 * Request authentication between servers (server-server API "Request Authentication"): the
 * method, target, origin, destination and body are signed as JSON by the origin, and the
 * signature travels in an `Authorization: X-Matrix …` header.
 */

import type { JsonObject, JsonValue } from '../core/canonical-json.js';
import type { SigningKey } from './signing-key.js';
import { signJson, verifyJsonSignature } from './signing.js';

/** What an X-Matrix header carries. `destination` is optional for older senders. */
export interface XMatrixAuthorization {
  readonly origin: string;
  readonly destination: string | undefined;
  readonly key: string;
  readonly sig: string;
}

/** The request as both sides see it: `uri` is the path with its query, as sent. */
export interface SignedRequest {
  readonly method: string;
  readonly uri: string;
  readonly origin: string;
  readonly destination: string;
  /** The parsed JSON body, if the request has one. */
  readonly content?: JsonValue;
}

/** The JSON object the signature covers. */
export function requestJson(request: SignedRequest): JsonObject {
  const json: JsonObject = {
    method: request.method,
    uri: request.uri,
    origin: request.origin,
    destination: request.destination,
  };
  if (request.content !== undefined) json.content = request.content;
  return json;
}

/** The `Authorization` header value for a request signed by its origin with `key`. */
export function xMatrixHeader(request: SignedRequest, key: SigningKey): string {
  const signed = signJson(requestJson(request), request.origin, key);
  const sig = signed.signatures[request.origin]?.[key.keyId] ?? '';
  // Lower-case names, no spaces around commas, one space after the scheme: what older servers parse.
  return `X-Matrix origin="${request.origin}",destination="${request.destination}",key="${key.keyId}",sig="${sig}"`;
}

/**
 * Parses an `Authorization` header of the X-Matrix scheme (RFC 9110 auth parameters: names
 * case-insensitive, values quoted with backslash escapes or bare tokens, colons allowed bare
 * for older senders). Undefined for another scheme or a header missing origin, key or sig.
 */
export function parseXMatrixHeader(header: string): XMatrixAuthorization | undefined {
  const match = /^X-Matrix +(.*)$/is.exec(header.trim());
  if (!match) return undefined;
  const params = new Map<string, string>();
  const rest = match[1] as string;
  let index = 0;
  while (index < rest.length) {
    const name = /^[ \t,]*([A-Za-z0-9!#$%&'*+.^_`|~-]+)[ \t]*=[ \t]*/.exec(rest.slice(index));
    if (!name) break;
    index += name[0].length;
    let value: string;
    if (rest[index] === '"') {
      value = '';
      index += 1;
      while (index < rest.length && rest[index] !== '"') {
        if (rest[index] === '\\' && index + 1 < rest.length) index += 1;
        value += rest[index];
        index += 1;
      }
      if (rest[index] !== '"') return undefined; // unterminated quoted value
      index += 1;
    } else {
      const token = /^[^ \t,"]*/.exec(rest.slice(index))?.[0] ?? '';
      value = token;
      index += token.length;
    }
    const key = (name[1] as string).toLowerCase();
    // The first occurrence wins; unknown parameters are ignored.
    if (!params.has(key)) params.set(key, value);
    const separator = /^[ \t]*(,|$)/.exec(rest.slice(index));
    if (!separator) return undefined;
    index += separator[0].length;
  }
  const origin = params.get('origin');
  const key = params.get('key');
  const sig = params.get('sig');
  if (!origin || !key || !sig) return undefined;
  return { origin, destination: params.get('destination'), key, sig };
}

/** Whether the header's signature is the origin's over this request, checked with `publicKey`. */
export function verifyXMatrix(
  request: SignedRequest,
  authorization: XMatrixAuthorization,
  publicKey: string,
): boolean {
  const signed: JsonObject = {
    ...requestJson(request),
    signatures: { [authorization.origin]: { [authorization.key]: authorization.sig } },
  };
  return verifyJsonSignature(signed, authorization.origin, authorization.key, publicKey);
}
