import type { Command } from 'commander';
import {
  DEFAULT_MAX_SHARDS_PER_VERSION,
  DEFAULT_MAX_TENANTS_PER_SHARD,
  parseMaxTenantsPerShard,
  parsePositiveInteger,
  parseRedistributionThreshold,
} from '../controller/placement.js';

/**
 * The controller's placement knobs, shared by `marina up` and `marina controller`, with
 * Element's names in kebab case (docs/controller.md, "Placement").
 */
export interface ControllerKnobOptions {
  shards: string;
  maxTenantsPerShard: string;
  maxShardsPerVersion: string;
  avgShardsLoadRedistributionThreshold: string;
  upgradeBatch: string;
}

export interface ControllerKnobs {
  readonly shards: number;
  readonly maxTenantsPerShard: number;
  readonly maxShardsPerVersion: number;
  readonly redistributionThreshold: number;
  readonly upgradeBatch: number;
}

export function addControllerKnobOptions(command: Command): Command {
  return command
    .option('--shards <n>', 'shard processes to start with (consolidation keeps this many)', '1')
    .option(
      '--max-tenants-per-shard <n>',
      'place no more tenants than this on one shard',
      String(DEFAULT_MAX_TENANTS_PER_SHARD),
    )
    .option(
      '--max-shards-per-version <n>',
      'run no more shards than this per Marina version; past it tenants wait ("shards full")',
      String(DEFAULT_MAX_SHARDS_PER_VERSION),
    )
    .option(
      '--avg-shards-load-redistribution-threshold <x>',
      'below this average of tenants per shard, empty the least loaded shard (0: never)',
      '0',
    )
    .option('--upgrade-batch <n>', 'tenants an upgrade moves at once', '2');
}

export function parseControllerKnobs(options: ControllerKnobOptions): ControllerKnobs {
  const flag = (name: string, parse: () => number) => {
    try {
      return parse();
    } catch (error) {
      throw new Error(`--${name}: ${(error as Error).message}`, { cause: error });
    }
  };
  return {
    shards: flag('shards', () => parsePositiveInteger(options.shards, 'the number of shards')),
    maxTenantsPerShard: flag('max-tenants-per-shard', () =>
      parseMaxTenantsPerShard(options.maxTenantsPerShard),
    ),
    maxShardsPerVersion: flag('max-shards-per-version', () =>
      parsePositiveInteger(options.maxShardsPerVersion, 'maxShardsPerVersion'),
    ),
    redistributionThreshold: flag('avg-shards-load-redistribution-threshold', () =>
      parseRedistributionThreshold(options.avgShardsLoadRedistributionThreshold),
    ),
    upgradeBatch: flag('upgrade-batch', () =>
      parsePositiveInteger(options.upgradeBatch, 'the upgrade batch'),
    ),
  };
}
