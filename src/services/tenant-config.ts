import { z } from 'zod';

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
  media_store: z.object({ kind: z.literal('local'), path: z.string().min(1) }),
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
