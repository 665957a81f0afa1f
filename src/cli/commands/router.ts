import { InvalidArgumentError, type Command } from 'commander';
import { addTlsOptions, type TlsCommandOptions } from '../tls-options.js';

export interface RouterCommandOptions extends TlsCommandOptions {
  listen: string;
  controller?: string;
  tokenFile?: string;
  dataDir: string;
  trustedProxy: string[];
  defaultTenant?: string;
  connectTimeoutMs: number;
}

/**
 * `marina router`: the front door (docs/router.md). Follows the controller's placement and
 * proxies each request to the shard that hosts the tenant its host names. The action lives in
 * router-actions.ts, loaded when it runs (see main.ts).
 */
export function registerRouterCommand(program: Command): void {
  const command = program
    .command('router')
    .description("route requests by host to the tenant's shard, following the controller")
    .option('--listen <host:port>', 'address to serve HTTP on', '127.0.0.1:8008')
    .option(
      '--controller <url>',
      "the controller's admin API (default: from DIR/controller/controller.json)",
    )
    .option('--token-file <file>', 'the admin token (default: DIR/controller/admin-token)')
    .option('--data-dir <dir>', "the controller's data directory", './marina-data')
    .option(
      '--trusted-proxy <ip-or-cidr>',
      'a proxy whose X-Forwarded-Host/-For/-Proto are believed (repeatable)',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option(
      '--default-tenant <server_name>',
      'the tenant for requests addressed by IP address (a host name reaches only its tenant)',
    )
    .option(
      '--connect-timeout-ms <ms>',
      'give up connecting to a shard after this long (503 with Retry-After)',
      positiveInteger,
      5_000,
    );
  addTlsOptions(command).action(async (options: RouterCommandOptions) => {
    const { runRouter } = await import('./router-actions.js');
    await runRouter(options);
  });
}

function positiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0) {
    throw new InvalidArgumentError('expected a positive integer');
  }
  return number;
}
