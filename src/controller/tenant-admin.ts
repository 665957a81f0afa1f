import { z } from 'zod';
import { MatrixError, badJson, invalidParam, missingParam } from '../core/errors.js';
import { isValidServerName, serverNameParts } from '../core/identifiers.js';
import type { NewTenantMediaStore, RegistrationMode } from './local-tenant-store.js';

/**
 * What `marina tenant …` does, whoever does it: the running controller (over its admin API) or,
 * when none runs, the registry and tenant folders edited directly. The shapes are the admin
 * API's JSON, so the CLI prints what the API returns.
 */
export interface TenantAdmin {
  createTenant(tenant: NewTenant): Promise<TenantSettings>;
  listTenants(): Promise<TenantSummary[]>;
  showTenant(serverName: string): Promise<TenantSettings>;
  deleteTenant(serverName: string, options: { purge: boolean }): Promise<DeletedTenant>;
}

export interface NewTenant {
  readonly serverName: string;
  /** Default: the server_name alone. Lower-cased, no port. */
  readonly hostnames?: readonly string[];
  readonly registration?: RegistrationMode;
  /** Default: local media in the tenant's folder. As in tenant.json (`media_store`). */
  readonly mediaStore?: NewTenantMediaStore;
}

/**
 * Where a tenant stands: its shard's report (`hibernated`, `starting`, `awake`, `failed`), or
 * `pending` (placed, not yet handed to its shard), `unplaced` (no shard has room), `moving`
 * (a move to another shard is in progress),
 * `shard_unavailable` (its shard is down or does not answer), `stopped` (no controller runs).
 */
export type TenantState =
  | 'hibernated'
  | 'starting'
  | 'awake'
  | 'failed'
  | 'pending'
  | 'unplaced'
  | 'moving'
  | 'shard_unavailable'
  | 'stopped';

export interface TenantSummary {
  server_name: string;
  hostnames: string[];
  shard_id: string | null;
  state: TenantState;
}

/** A tenant's settings as `marina tenant show --json` prints them. */
export interface TenantSettings {
  server_name: string;
  hostnames: string[];
  shard_id: string | null;
  /** Where it stands (as in `listTenants`); `tenant show` reports it, `create` does not. */
  state?: TenantState;
  registration_mode: RegistrationMode;
  registration_shared_secret: string;
  tenant_dir: string;
  signing_key_id?: string;
  verify_key?: string;
  [setting: string]: unknown;
}

export interface DeletedTenant {
  server_name: string;
  purged: boolean;
  /** Where the data went when it was kept. */
  kept_at?: string;
}

// Tenant mobility (issue 5): the admin API's JSON for moves, shards and upgrades. Only a running
// controller does these, so they are not part of `TenantAdmin`.

/** Why the controller moved a tenant. */
export type MoveReason = 'manual' | 'drain' | 'upgrade' | 'consolidation' | 'shard_lost';

/** `POST /tenants/:serverName/move`. */
export interface MoveResult {
  server_name: string;
  from: string;
  to: string;
  duration_ms: number;
}

/** One entry of `GET /moves` (newest first). */
export interface MoveRecord {
  server_name: string;
  from: string;
  to: string;
  reason: MoveReason;
  started_ts: number;
  /** Null while it runs. */
  duration_ms: number | null;
  outcome: 'moving' | 'done' | 'failed';
  error?: string;
}

export type ShardState =
  'starting' | 'running' | 'restarting' | 'draining' | 'retiring' | 'stopped';

/** One entry of `GET /shards`. */
export interface ShardSummary {
  shard_id: string;
  /** The Marina version it runs. */
  version: string;
  state: ShardState;
  pid: number | null;
  admin_url: string | null;
  traffic_url: string | null;
  tenants: number;
}

/** `POST /shards/:shardId/drain`: every tenant moved off, then the shard retired. */
export interface DrainResult {
  shard_id: string;
  moved: { server_name: string; to: string }[];
  failed: { server_name: string; error: string }[];
}

/** `POST /upgrade` (202). */
export interface UpgradeStarted {
  target_version: string;
  tenants_to_move: number;
}

/** `GET /upgrade`. */
export interface UpgradeStatus {
  /** The version new shards run (the controller's own until an upgrade names another). */
  target_version: string;
  state: 'idle' | 'upgrading';
  shards_by_version: Record<string, number>;
  tenants_left: number;
}

const newMediaStoreSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('local') }),
  z.object({
    kind: z.literal('s3'),
    bucket: z.string().min(1),
    endpoint: z.string().url(),
    region: z.string().min(1).optional(),
    prefix: z.string().optional(),
    force_path_style: z.boolean().optional(),
    access_key_id: z.string().min(1).optional(),
    secret_access_key: z.string().min(1).optional(),
  }),
]);

const newTenantSchema = z.object({
  server_name: z.string(),
  hostnames: z.array(z.string()).optional(),
  registration: z.enum(['open', 'token', 'closed']).optional(),
  media_store: newMediaStoreSchema.optional(),
});

/** Reads and checks a `POST /tenants` body (or the CLI's arguments in that shape). */
export function parseNewTenant(body: unknown): NewTenant {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badJson('The body must be a JSON object');
  }
  if (!('server_name' in body)) throw missingParam('server_name is required');
  const parsed = newTenantSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') || 'body';
    if (field.startsWith('registration')) {
      throw invalidParam('registration must be open, token or closed');
    }
    if (field.startsWith('media_store')) {
      throw invalidParam(`Invalid ${field}: ${issue?.message ?? 'wrong type'}`);
    }
    throw badJson(`Invalid ${field}: ${issue?.message ?? 'wrong type'}`);
  }
  const { server_name: serverName, hostnames, registration, media_store: mediaStore } = parsed.data;
  checkServerName(serverName);
  if (
    mediaStore?.kind === 's3' &&
    (mediaStore.access_key_id === undefined) !== (mediaStore.secret_access_key === undefined)
  ) {
    throw invalidParam('media_store: access_key_id and secret_access_key go together');
  }
  return {
    serverName,
    hostnames: hostnames === undefined ? undefined : normalizeHostnames(hostnames),
    registration,
    ...(mediaStore !== undefined ? { mediaStore } : {}),
  };
}

export function checkServerName(serverName: string): void {
  if (!isValidServerName(serverName)) {
    throw invalidParam(`"${serverName}" is not a valid Matrix server name`);
  }
}

/** Host names as requests carry them: lower-case, no port, no duplicates. */
function normalizeHostnames(hostnames: readonly string[]): string[] {
  const normalized: string[] = [];
  for (const hostname of hostnames) {
    const lower = hostname.toLowerCase();
    if (!isValidServerName(lower) || serverNameParts(lower).port !== undefined) {
      throw invalidParam(`"${hostname}" is not a valid host name (a DNS name or IP, no port)`);
    }
    if (!normalized.includes(lower)) normalized.push(lower);
  }
  return normalized;
}

export function unknownTenant(serverName: string, where: string): MatrixError {
  return new MatrixError('M_NOT_FOUND', `no tenant ${serverName} in ${where}`);
}
