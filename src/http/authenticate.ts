import type { FastifyRequest } from 'fastify';
import { guestAccessForbidden, missingToken } from '../core/errors.js';
import type { Endpoint, RequestAuth } from '../api/endpoint.js';
import type { TenantContext } from '../services/tenant-context.js';

/**
 * The access token of a request: `Authorization: Bearer …`, or else the deprecated
 * `access_token` query parameter (older clients and scripts still send it).
 */
export function accessTokenOf(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return match?.[1];
  }
  const query = req.query as Record<string, unknown> | undefined;
  const fromQuery = query?.['access_token'];
  return typeof fromQuery === 'string' && fromQuery !== '' ? fromQuery : undefined;
}

/**
 * Checks the caller against the endpoint's auth kind before the handler runs; the tenant's
 * token service does the checking. Returns who is calling, or null when nobody has to be.
 */
export async function authenticate(
  endpoint: Endpoint,
  tenant: TenantContext,
  req: FastifyRequest,
): Promise<RequestAuth | null> {
  if (endpoint.auth === 'none') return null;
  const token = accessTokenOf(req);
  if (token === undefined) {
    if (endpoint.auth === 'optional-user') return null;
    throw missingToken();
  }
  const auth = await tenant.services.accessTokens.authenticate(token, req.ip);
  if (auth.isGuest && endpoint.allowGuests !== true) {
    throw guestAccessForbidden('Guest accounts may not use this endpoint');
  }
  return auth;
}
