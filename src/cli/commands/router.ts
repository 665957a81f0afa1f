import { InvalidArgumentError, type Command } from 'commander';
import { controllerEndpointFinder } from '../../router/controller-endpoint.js';
import { ControllerPlacementSource } from '../../router/controller-placement-source.js';
import { Router } from '../../router/router.js';
import { parseListenAddress } from '../listen-address.js';
import {
  addTlsOptions,
  httpsListening,
  readTlsOptions,
  type TlsCommandOptions,
} from '../tls-options.js';
import { createProcessLogger } from '../logger.js';
import { stopOnSignals } from '../signals.js';

interface RouterCommandOptions extends TlsCommandOptions {
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
 * proxies each request to the shard that hosts the tenant its host names.
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
    const listen = parseListenAddress(options.listen);
    const tls = await readTlsOptions(options);
    const logger = createProcessLogger('marina-router');
    const source = new ControllerPlacementSource({
      logger,
      endpoint: controllerEndpointFinder({
        controllerUrl: options.controller,
        tokenFile: options.tokenFile,
        dataDir: options.dataDir,
      }),
    });
    const router = await Router.start({
      logger,
      source,
      listen,
      trustedProxies: options.trustedProxy,
      defaultTenant: options.defaultTenant,
      connectTimeoutMs: options.connectTimeoutMs,
      tls,
    });
    const listening = `http://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${router.port}`;
    logger.info(
      {
        listening,
        controller: options.controller ?? `from ${options.dataDir}/controller/controller.json`,
        trusted_proxies: options.trustedProxy,
        ...(tls && router.tlsPort !== undefined
          ? { tls_listening: httpsListening(tls.listen.host, router.tlsPort) }
          : {}),
      },
      `serving tenants by host at ${listening}`,
    );
    stopOnSignals(logger, () => router.stop());
  });
}

function positiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0) {
    throw new InvalidArgumentError('expected a positive integer');
  }
  return number;
}
