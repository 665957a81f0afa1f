/** Parses `HOST:PORT` (IPv6 hosts in brackets: `[::1]:8008`) as given to `--listen`. */
export function parseListenAddress(text: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) {
    throw new Error(`--listen wants HOST:PORT (for example 127.0.0.1:8008), not "${text}"`);
  }
  return { host: (match[1] ?? match[2]) as string, port };
}

/**
 * The URL a process on this machine reaches a listener at, by address (wildcards → loopback),
 * so that no name lookup picks the other IP family.
 */
export function loopbackUrl(host: string, port: number): string {
  const local = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${local.includes(':') ? `[${local}]` : local}:${port}`;
}

/** The URL clients on this machine use to reach a listener (wildcard addresses → localhost). */
export function localBaseUrl(host: string, port: number): string {
  const wildcard = host === '0.0.0.0' || host === '::' || host === '127.0.0.1' || host === '::1';
  const name = wildcard ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `http://${name}:${port}`;
}
