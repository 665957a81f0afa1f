/**
 * What `marina router` does (its options: router.ts). A module of its own so that the `marina`
 * command loads the router only when it runs.
 */
import { controllerEndpointFinder } from '../../router/controller-endpoint.js';
import { ControllerPlacementSource } from '../../router/controller-placement-source.js';
import { Router } from '../../router/router.js';
import { parseListenAddress } from '../listen-address.js';
import { httpsListening, readTlsOptions } from '../tls-options.js';
import { createProcessLogger } from '../logger.js';
import { stopOnSignals } from '../signals.js';
import type { RouterCommandOptions } from './router.js';

export async function runRouter(options: RouterCommandOptions): Promise<void> {
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
}
