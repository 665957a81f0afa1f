import { z } from 'zod';

/**
 * The placement document the controller serves at `GET /_marina/controller/v1/placement`: which
 * tenant is on which shard, and where that shard takes traffic. Validated on arrival, so a table
 * never holds a half-understood entry.
 */

export interface PlacedTenant {
  readonly server_name: string;
  /** Host names routed to the tenant besides its server_name. */
  readonly hostnames: readonly string[];
  /** Null while the tenant is on no shard. */
  readonly shard_id: string | null;
  /** The shard's traffic listener (`http://127.0.0.1:PORT`); null while it has none. */
  readonly traffic_url: string | null;
  /**
   * A move of the tenant is in progress: the router holds its new requests until a placement
   * where it is not moving. Absent: false (a parsed document always has it).
   */
  readonly moving?: boolean;
}

export interface Placement {
  /** Grows with each change; the next long-poll asks for a version past it. */
  readonly version: number;
  readonly tenants: readonly PlacedTenant[];
}

const placedTenantSchema = z.object({
  server_name: z.string().min(1),
  hostnames: z.array(z.string()).default([]),
  shard_id: z
    .union([z.string(), z.number()])
    .nullish()
    .transform((id) => (id === null || id === undefined ? null : String(id))),
  traffic_url: z
    .string()
    .nullish()
    .transform((url) => url ?? null),
  moving: z.boolean().default(false),
});

const placementSchema = z.object({
  version: z.number().int().nonnegative(),
  tenants: z.array(placedTenantSchema),
});

/** Parses a placement document; throws with a readable reason when it is not one. */
export function parsePlacement(json: unknown): Placement {
  const parsed = placementSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(`not a placement document: ${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}
