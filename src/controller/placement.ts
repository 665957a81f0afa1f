import type { ShardLoad } from './registry/registry.js';

/**
 * Where a new tenant goes: the shard holding the fewest tenants, among those below
 * `maxTenantsPerShard` (Element's knob name); ties go to the first shard in ID order. Tenants
 * never move once placed (moves come with the router's hold-and-move, later).
 */

/**
 * Marina's shards are built to hold a thousand tenants (issue 4's density target); Element's
 * Synapse shards default to 25.
 */
export const DEFAULT_MAX_TENANTS_PER_SHARD = 1000;

export function leastLoadedShard(
  loads: readonly ShardLoad[],
  maxTenantsPerShard: number,
): string | undefined {
  let best: ShardLoad | undefined;
  for (const load of loads) {
    if (load.tenants >= maxTenantsPerShard) continue;
    if (best === undefined || load.tenants < best.tenants) best = load;
  }
  return best?.shardId;
}

/** Checks a `maxTenantsPerShard` value (a positive integer). */
export function parseMaxTenantsPerShard(value: string | number): number {
  const parsed = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 1) {
    throw new Error(`maxTenantsPerShard must be a positive integer, not ${String(value)}`);
  }
  return parsed;
}
