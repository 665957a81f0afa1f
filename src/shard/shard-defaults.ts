/**
 * The shard's defaults, in a module of their own: `marina shard --help` shows them without
 * loading the shard.
 */
import type { TenantLimits } from './tenant-host.js';

/** A tenant with no request for this long is hibernated. */
export const DEFAULT_IDLE_HIBERNATE_MS = 5 * 60_000;

export const DEFAULT_TENANT_LIMITS: TenantLimits = {
  maxInFlight: 32,
  maxQueued: 256,
  maxLongPolls: 1024,
  maxQueuedLongPolls: 256,
};
