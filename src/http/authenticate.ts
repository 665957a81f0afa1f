import type { FastifyRequest } from 'fastify';
import type { JsonValue } from '../core/canonical-json.js';
import { guestAccessForbidden, missingToken } from '../core/errors.js';
import { parseJsonBody } from './request-input.js';
import type { Endpoint, RequestAuth, ServerAuth } from '../api/endpoint.js';
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
): Promise<RequestAuth | ServerAuth | null> {
  if (endpoint.auth === 'none') return null;
  if (endpoint.auth === 'server') {
    // The signature covers the parsed body: a body that is not JSON is refused before.
    const raw = req.body as Buffer | undefined;
    return tenant.services.federation.requestAuth.authenticate({
      method: req.method,
      uri: req.url,
      authorization: req.headers.authorization,
      content:
        raw === undefined || raw.length === 0 ? undefined : (parseJsonBody(raw) as JsonValue),
    });
  }
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
