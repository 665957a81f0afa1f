import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { RouterTlsOptions } from '../router/router.js';
import { parseListenAddress } from './listen-address.js';

/** The router's HTTPS listener options, shared by `marina router` and `marina up`. */
export interface TlsCommandOptions {
  tlsCert?: string;
  tlsKey?: string;
  tlsListen?: string;
}

export const DEFAULT_TLS_LISTEN = '0.0.0.0:8448';

export function addTlsOptions(command: Command): Command {
  return command
    .option('--tls-cert <file>', 'PEM certificate chain: also serve HTTPS (TLS ends at the router)')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option(
      '--tls-listen <host:port>',
      `address to serve HTTPS on (default ${DEFAULT_TLS_LISTEN})`,
    );
}

/** Reads the certificate and key; undefined when no TLS is asked for. */
export async function readTlsOptions(
  options: TlsCommandOptions,
): Promise<RouterTlsOptions | undefined> {
  const { tlsCert, tlsKey, tlsListen } = options;
  if (tlsCert === undefined && tlsKey === undefined) {
    if (tlsListen !== undefined) throw new Error('--tls-listen needs --tls-cert and --tls-key');
    return undefined;
  }
  if (tlsCert === undefined || tlsKey === undefined) {
    throw new Error('--tls-cert and --tls-key go together');
  }
  const listen = parseListenAddress(tlsListen ?? DEFAULT_TLS_LISTEN);
  const [cert, key] = await Promise.all([readFile(tlsCert), readFile(tlsKey)]);
  return { cert, key, listen };
}

/** `https://host:port` for logs. */
export function httpsListening(host: string, port: number): string {
  return `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
