/**
 * Paths of a client-server endpoint: `/_matrix/client/v3…` first and, for endpoints that existed
 * before v3, the `/r0/` alias older clients still call.
 */
export function clientPaths(path: string, options: { r0?: boolean } = { r0: true }): string[] {
  const paths = [`/_matrix/client/v3${path}`];
  if (options.r0 !== false) paths.push(`/_matrix/client/r0${path}`);
  return paths;
}

/** Paths of an endpoint the spec puts under `/_matrix/client/v1`. */
export function clientV1Paths(path: string): string[] {
  return [`/_matrix/client/v1${path}`];
}
