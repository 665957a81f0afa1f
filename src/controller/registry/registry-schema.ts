/**
 * Tables of the controller's registry (`DIR/controller/registry.db`): which tenants exist, the
 * host names that route to them, which shard each one is placed on, and the shards the
 * controller runs. Not a tenant database: it holds no homeserver data.
 */
export interface RegistryDatabase {
  /** Small key/value facts (`placement_version`). */
  registry_meta: { key: string; value: string };
  tenants: {
    server_name: string;
    /** JSON array: the tenant's host names as in its tenant.json. */
    hostnames: string;
    /** Null while the tenant waits for a shard with room. */
    shard_id: string | null;
    created_ts: number;
    /** The shard a move in progress takes the tenant to (null when it is not moving). */
    moving_to: string | null;
  };
  /**
   * Every host that routes to a tenant (its server_name and host names, lower-cased), unique
   * across tenants so that a host never names two homeservers.
   */
  tenant_hosts: { host: string; server_name: string };
  shards: {
    id: string;
    admin_url: string | null;
    traffic_url: string | null;
    pid: number | null;
    state: string;
    updated_ts: number;
    /** The Marina version the shard runs (see docs/controller.md, upgrades). */
    version: string;
    /** The bearer token of its admin API, for a next controller to adopt it. */
    admin_token: string | null;
  };
}
