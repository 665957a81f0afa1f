import type { Command } from 'commander';
import { addControllerKnobOptions, type ControllerKnobOptions } from '../controller-knobs.js';
import { addTlsOptions, type TlsCommandOptions } from '../tls-options.js';

/** The tenant the embedded default creates; it also answers requests addressed by IP address. */
export const EMBEDDED_TENANT = 'localhost';

export interface UpOptions extends ControllerKnobOptions, TlsCommandOptions {
  dataDir: string;
  listen: string;
  idleHibernateMs?: string;
}

/**
 * `marina up`: the whole local backend in one command — the controller and the router in this
 * process, and `--shards N` shard processes. On an empty data dir it creates the tenant
 * `localhost`, which also answers requests addressed by IP address, so both `curl localhost:8008`
 * and `curl 127.0.0.1:8008` work; a host name reaches only the tenant that claims it.
 * The action lives in up-actions.ts, loaded when it runs (see main.ts).
 */
export function registerUpCommand(program: Command): void {
  const command = program
    .command('up')
    .description(
      'run the local backend: controller, router and shards (the tenant "localhost" on first run)',
    )
    .option('--data-dir <dir>', 'where tenants keep their data', './marina-data')
    .option('--listen <host:port>', 'address clients reach the tenants at', '127.0.0.1:8008');
  addControllerKnobOptions(addTlsOptions(command))
    .option(
      '--idle-hibernate-ms <ms>',
      'hibernate a tenant idle this long (passed to the shards; their default is 5 minutes)',
    )
    .action(async (options: UpOptions) => {
      const { runUp } = await import('./up-actions.js');
      await runUp(options);
    });
}
