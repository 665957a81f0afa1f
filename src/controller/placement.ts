import type { ShardLoad, ShardState } from './registry/registry.js';

/**
 * Where a tenant goes, with Element's knob names: fill the shards that run the target version
 * first (the least loaded below `maxTenantsPerShard`; ties go to the first shard in ID order);
 * start a new shard only when every one of them is full, and never more than
 * `maxShardsPerVersion` shards of one version; past that the tenant waits ("shards full").
 */

/**
 * Marina's shards are built to hold a thousand tenants (issue 4's density target); Element's
 * Synapse shards default to 25.
 */
export const DEFAULT_MAX_TENANTS_PER_SHARD = 1000;
export const DEFAULT_MAX_SHARDS_PER_VERSION = 10;

export interface PlacementKnobs {
  readonly maxTenantsPerShard: number;
  readonly maxShardsPerVersion: number;
}

export type PlacementDecision =
  | { readonly kind: 'shard'; readonly shardId: string }
  | { readonly kind: 'new-shard' }
  | { readonly kind: 'full' };

/** Shards that take tenants: not being drained or retired. */
const ACCEPTING: ReadonlySet<ShardState> = new Set(['starting', 'running', 'restarting']);
/** Shards that count towards a version's limit: all but those on their way out. */
const COUNTED: ReadonlySet<ShardState> = new Set(['starting', 'running', 'restarting', 'draining']);

export function isAccepting(state: ShardState): boolean {
  return ACCEPTING.has(state);
}

/** Where one more tenant goes among shards of `version` (never `exclude`, its current shard). */
export function decidePlacement(
  loads: readonly ShardLoad[],
  knobs: PlacementKnobs,
  version: string,
  exclude?: string,
): PlacementDecision {
  const ofVersion = loads.filter((load) => load.version === version);
  const candidates = ofVersion.filter(
    (load) => load.shardId !== exclude && ACCEPTING.has(load.state),
  );
  const shardId = leastLoadedShard(candidates, knobs.maxTenantsPerShard);
  if (shardId !== undefined) return { kind: 'shard', shardId };
  const counted = ofVersion.filter((load) => COUNTED.has(load.state)).length;
  return counted < knobs.maxShardsPerVersion ? { kind: 'new-shard' } : { kind: 'full' };
}

export function leastLoadedShard(
  loads: readonly Pick<ShardLoad, 'shardId' | 'tenants'>[],
  maxTenantsPerShard: number,
): string | undefined {
  let best: Pick<ShardLoad, 'shardId' | 'tenants'> | undefined;
  for (const load of loads) {
    if (load.tenants >= maxTenantsPerShard) continue;
    if (best === undefined || load.tenants < best.tenants) best = load;
  }
  return best?.shardId;
}

/**
 * The shard whose tenants consolidation moves away, if any: when the shards of `version` hold
 * on average fewer than `threshold` tenants each (Element's
 * `avgShardsLoadRedistributionThreshold`), more of them run than `minShards`, and the least
 * loaded one's tenants fit on the others.
 */
export function shardToConsolidate(
  loads: readonly ShardLoad[],
  options: { threshold: number; minShards: number; maxTenantsPerShard: number; version: string },
): string | undefined {
  if (options.threshold <= 0) return undefined;
  const shards = loads.filter(
    (load) => load.version === options.version && ACCEPTING.has(load.state),
  );
  if (shards.length <= Math.max(1, options.minShards)) return undefined;
  const total = shards.reduce((sum, load) => sum + load.tenants, 0);
  if (total / shards.length >= options.threshold) return undefined;
  // The least loaded; among equals the last, so that low shard IDs stay.
  let lightest = shards[0] as ShardLoad;
  for (const load of shards) if (load.tenants <= lightest.tenants) lightest = load;
  const room = shards
    .filter((load) => load !== lightest)
    .reduce((sum, load) => sum + Math.max(0, options.maxTenantsPerShard - load.tenants), 0);
  return room >= lightest.tenants ? lightest.shardId : undefined;
}

/** Checks a knob that must be a positive integer. */
export function parsePositiveInteger(value: string | number, name: string): number {
  const parsed = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 1) {
    throw new Error(`${name} must be a positive integer, not ${String(value)}`);
  }
  return parsed;
}

/** Checks a `maxTenantsPerShard` value (a positive integer). */
export function parseMaxTenantsPerShard(value: string | number): number {
  return parsePositiveInteger(value, 'maxTenantsPerShard');
}

/** Checks an `avgShardsLoadRedistributionThreshold` value (a number ≥ 0; 0 turns it off). */
export function parseRedistributionThreshold(value: string | number): number {
  const parsed = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(parsed) || parsed < 0 || String(value).trim() === '') {
    throw new Error(
      `avgShardsLoadRedistributionThreshold must be a number ≥ 0, not ${String(value)}`,
    );
  }
  return parsed;
}
