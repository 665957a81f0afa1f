/**
 * Server ACLs (`m.room.server_acl`, client-server API "Server Access Control Lists"): whether a
 * server may take part in a room. Pure: the caller passes the content of the room's current ACL
 * event (undefined when the room has none) and the server name of the requester.
 *
 * The order of the spec: no ACL → allow; an IP literal with `allow_ip_literals: false` → deny;
 * a `deny` match → deny; an `allow` match → allow; otherwise deny. Patterns are case-insensitive
 * globs (`*` any run of characters, `?` one character) matched against the server name without
 * its port.
 */

import type { JsonObject, JsonValue } from '../core/canonical-json.js';

/** The host of a server name, without its port (`[::1]:8448` → `[::1]`, `a.b:80` → `a.b`). */
export function hostOfServerName(serverName: string): string {
  if (serverName.startsWith('[')) {
    const end = serverName.indexOf(']');
    return end === -1 ? serverName : serverName.slice(0, end + 1);
  }
  const colon = serverName.lastIndexOf(':');
  return colon === -1 ? serverName : serverName.slice(0, colon);
}

/** Whether a host is an IPv4 or (bracketed or bare) IPv6 literal. */
export function isIpLiteral(host: string): boolean {
  if (host.startsWith('[') && host.endsWith(']')) return true;
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) return true;
  return host.includes(':');
}

/** A glob (`*`, `?`) as an anchored, case-insensitive regular expression. */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (const char of glob) {
    if (char === '*') source += '.*';
    else if (char === '?') source += '.';
    else source += char.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 'is');
}

function patternsOf(value: JsonValue | undefined): RegExp[] {
  if (!Array.isArray(value)) return [];
  return value.filter((entry) => typeof entry === 'string').map(globToRegExp);
}

/**
 * Whether the room's ACL lets `serverName` take part. `aclContent` is the content of the
 * current `m.room.server_acl` event, undefined if the room has none.
 */
export function serverAclAllows(aclContent: JsonObject | undefined, serverName: string): boolean {
  if (aclContent === undefined) return true;
  const host = hostOfServerName(serverName);
  // Anything but a boolean counts as true.
  if (aclContent.allow_ip_literals === false && isIpLiteral(host)) return false;
  if (patternsOf(aclContent.deny).some((pattern) => pattern.test(host))) return false;
  return patternsOf(aclContent.allow).some((pattern) => pattern.test(host));
}
