import { forbidden } from '../../core/errors.js';
import type { RequestAuth } from '../endpoint.js';

/** Admin API endpoints are for server admins only: anyone else gets 403 M_FORBIDDEN. */
export function requireAdmin(auth: RequestAuth): void {
  if (!auth.isAdmin) throw forbidden('You are not a server admin');
}
