import { posix } from 'node:path';

/**
 * Marina's internal APIs (`/_marina/…`: the shard's and the controller's admin APIs) are never
 * reachable through the router, however the path is spelled: percent-encoded, with dot segments,
 * doubled slashes or another letter case.
 */
export function isInternalPath(requestTarget: string): boolean {
  const query = requestTarget.search(/[?#]/);
  const rawPath = query === -1 ? requestTarget : requestTarget.slice(0, query);
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    path = rawPath;
  }
  const normalized = posix.normalize(path.replaceAll('\\', '/')).toLowerCase();
  return normalized === '/_marina' || normalized.startsWith('/_marina/');
}

/** The path of a request target without its query string (which may hold an access token). */
export function pathWithoutQuery(requestTarget: string): string {
  const query = requestTarget.search(/[?#]/);
  return query === -1 ? requestTarget : requestTarget.slice(0, query);
}
