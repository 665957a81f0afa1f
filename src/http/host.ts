/**
 * The host name a request is addressed to, from its `Host` header: lower-cased, port removed,
 * IPv6 literals kept in brackets (`[::1]:8008` → `[::1]`). Undefined when there is none.
 */
export function hostnameOf(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  const host = hostHeader.trim().toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? undefined : host.slice(0, end + 1);
  }
  const colon = host.indexOf(':');
  const name = colon === -1 ? host : host.slice(0, colon);
  return name.length > 0 ? name : undefined;
}
