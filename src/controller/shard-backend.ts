import type { RunningShard } from './shard-process.js';

/**
 * What the controller needs of the machinery that runs shard processes: the local backend
 * (ShardSupervisor, child processes on this machine) today; a Kubernetes backend (shards as
 * pods) is to implement the same. The controller decides which shards exist and which tenants
 * each holds; the backend only runs them and reports each one ready (to hand it its tenants) and
 * each unexpected exit (it restarts them on its own).
 */
export interface ShardBackend {
  /** Starts the first shards; rejects if one cannot start (the others stopped again). */
  start(shardIds: readonly string[]): Promise<void>;
  /** Starts one more shard; resolves once it is ready and has its tenants. */
  add(shardId: string): Promise<void>;
  /** Takes over a shard that outlived an earlier controller. */
  adopt(shard: RunningShard): Promise<void>;
  /** Stops a shard for good. */
  retire(shardId: string): Promise<void>;
  /** The shard's process as it runs now (addresses, admin token), if it is up. */
  running(shardId: string): RunningShard | undefined;
  /** Stops every shard. */
  stop(): Promise<void>;
  /** Lets go of every shard, leaving them running for the next controller. */
  detach(): Promise<void>;
  /** Kills every shard at once (a crashing controller's last resort). */
  killNow(): void;
}
