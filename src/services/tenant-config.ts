import { z } from 'zod';
import { isCidr } from '../core/ip-address-policy.js';

/**
 * The settings of one tenant: everything that makes it a distinct homeserver. Stored as
 * `tenant.json` in the tenant's directory; paths in it are relative to that directory.
 */
export const tenantConfigSchema = z.object({
  /** The homeserver's `server_name`: the domain part of its user IDs, never changes. */
  server_name: z.string().min(1),
  /** Host names whose requests this tenant serves (default: the server_name). */
  hostnames: z.array(z.string().min(1)).default([]),
  database: z.discriminatedUnion('dialect', [
    z.object({ dialect: z.literal('sqlite'), path: z.string().min(1) }),
    z.object({
      dialect: z.literal('postgres'),
      url: z.string().min(1),
      max_connections: z.number().int().positive().optional(),
    }),
  ]),
  /** Where media bytes live: a local directory, or an S3 bucket (see docs/media.md). */
  media_store: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('local'), path: z.string().min(1) }),
    z
      .object({
        kind: z.literal('s3'),
        bucket: z.string().min(1),
        endpoint: z.string().url(),
        region: z.string().min(1).default('us-east-1'),
        /** Prepended to every object key. */
        prefix: z.string().default(''),
        /** Path-style URLs (`endpoint/bucket/key`), as MinIO-style endpoints need. */
        force_path_style: z.boolean().default(false),
        /** Both or neither; neither: the standard AWS environment variables (SDK default chain). */
        access_key_id: z.string().min(1).optional(),
        secret_access_key: z.string().min(1).optional(),
      })
      .refine((s3) => (s3.access_key_id === undefined) === (s3.secret_access_key === undefined), {
        message: 'access_key_id and secret_access_key go together',
      }),
  ]),
  /** Largest upload in bytes (`m.upload.size`); default 50 MiB. */
  max_upload_size_bytes: z.number().int().positive().optional(),
  /** Total bytes of media the whole tenant may store; default: no quota. */
  media_storage_quota_bytes: z.number().int().nonnegative().optional(),
  /**
   * Media uploaded at or after this time (ms since the epoch) is not served by the deprecated
   * unauthenticated `/_matrix/media/v3/download` (spec v1.11 "freeze"). New tenants get their
   * creation time; absent: never frozen.
   */
  unauthenticated_media_freeze_ts: z.number().int().nonnegative().optional(),
  /** Largest media (bytes) that is thumbnailed; larger: 413 M_TOO_LARGE. Default 20 MiB. */
  max_thumbnail_source_bytes: z.number().int().positive().optional(),
  /** Whether `preview_url` fetches previews; default false (disabled: 404 M_UNRECOGNIZED). */
  url_preview_enabled: z.boolean().optional(),
  /**
   * CIDR ranges (or single addresses) URL previews may reach although they are private,
   * loopback, link-local… (SSRF guard; see docs/media.md). Empty by default.
   */
  url_preview_ip_allowlist: z
    .array(z.string().refine(isCidr, { message: 'must be a CIDR range such as 10.1.0.0/16' }))
    .optional(),
  /**
   * Other servers' media cached here and not served for this many days is evicted (fetched
   * again when next asked for); default 90 (Synapse: `media_retention.remote_media_lifetime`).
   */
  remote_media_lifetime_days: z.number().int().positive().optional(),
  /** Time one URL preview may take, redirects and its image included (ms); default 10 s. */
  url_preview_timeout_ms: z.number().int().positive().optional(),
  /** File with the tenant's Ed25519 signing keys, in Synapse's format. */
  signing_key_path: z.string().min(1),
  /** Keys the tenant signed with before, still published in `old_verify_keys`. */
  old_verify_keys: z
    .array(
      z.object({
        key_id: z.string().min(1),
        key: z.string().min(1),
        expired_ts: z.number().int().nonnegative(),
      }),
    )
    .default([]),
  /**
   * Destinations reached over plain HTTP at `host:port` instead of by server discovery and TLS:
   * for tests and private deployments only (server name → `host:port`; empty by default).
   */
  federation_plain_http: z.record(z.string().min(1), z.string().min(1)).default({}),
  /** PEM files of CAs trusted for federation TLS besides the system's (private deployments, tests). */
  federation_ca_files: z.array(z.string().min(1)).default([]),
  /**
   * CIDR ranges (or single addresses) that federation over Internet discovery may connect to
   * although they are private, loopback, link-local… (SSRF guard; see docs/federation.md and
   * docs/media.md). Empty by default. Deployment tenants and `federation_plain_http` need none.
   */
  federation_ip_allowlist: z
    .array(z.string().refine(isCidr, { message: 'must be a CIDR range such as 10.1.0.0/16' }))
    .default([]),
  /** Notaries asked for other servers' keys when a server cannot be asked itself; none by default. */
  federation_trusted_key_servers: z
    .array(
      z.object({
        server_name: z.string().min(1),
        /** Key ID → unpadded base64 public key that the notary's answers must be signed with. */
        verify_keys: z.record(z.string().min(1), z.string().min(1)),
      }),
    )
    .default([]),
  registration_mode: z.enum(['open', 'token', 'closed']).default('closed'),
  /** Whether `POST /register?kind=guest` may create guest accounts. */
  allow_guest_access: z.boolean().default(false),
  /** Secret for Synapse-compatible shared-secret registration (`/_synapse/admin/v1/register`). */
  registration_shared_secret: z.string().min(16),
  /** Base URL clients use (`/.well-known/matrix/client`); default: the host's public URL. */
  public_baseurl: z.string().url().optional(),
  /** `m.server` of `/.well-known/matrix/server`; default: host and port of public_baseurl. */
  well_known_server: z.string().min(1).optional(),
  /** TURN servers for calls (`GET /voip/turnServer`); none: clients get `{}` and use no TURN. */
  turn_uris: z.array(z.string().regex(/^turns?:/)).optional(),
  /** coturn's `static-auth-secret`: credentials are derived from it (TURN REST API). */
  turn_shared_secret: z.string().min(1).optional(),
  /** How long TURN credentials last, in milliseconds (default one day). */
  turn_user_lifetime_ms: z.number().int().positive().optional(),
});

export type TenantConfig = z.infer<typeof tenantConfigSchema>;
