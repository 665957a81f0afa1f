import type { ServerResponse } from 'node:http';
import { MatrixError } from '../core/errors.js';
import { CORS_HEADERS } from '../http/cors.js';

/**
 * The router's own answers (unknown host, shard unreachable, internal path) are Matrix errors
 * with the CORS headers of every Marina response, so clients and browsers read them as they
 * read a shard's.
 */
export function sendRouterError(res: ServerResponse, error: MatrixError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(error.toJSON());
  res.writeHead(error.status, {
    ...CORS_HEADERS,
    ...error.headers,
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** The header of the router's answer for a host none of its tenants claims. */
export const UNKNOWN_HOST_HEADER = 'X-Marina-Unknown-Host';

/**
 * No tenant claims the host. `X-Marina-Unknown-Host` tells a tenant of this deployment that sent
 * a federation request here that the destination is elsewhere: it then uses server discovery.
 */
export const noHomeserverAt = (host: string | undefined) =>
  new MatrixError('M_NOT_FOUND', `No homeserver is served at host ${host ?? '(none)'}`, {
    headers: { [UNKNOWN_HOST_HEADER]: '1' },
  });

export const internalPathRefused = () =>
  new MatrixError('M_UNRECOGNIZED', 'Unrecognized request', { status: 404 });

export const badRequestTarget = () =>
  new MatrixError('M_UNRECOGNIZED', 'Request target must be a path', { status: 400 });

/** 503 rather than 502: a shard is away only for a while (restarting, replaced), so retry. */
export const shardUnreachable = (serverName: string) =>
  new MatrixError('M_UNKNOWN', `The homeserver ${serverName} cannot be reached right now`, {
    status: 503,
    headers: { 'Retry-After': '1' },
  });

/** A request held while its tenant moved, for longer than the router holds one. */
export const moveNotOver = (serverName: string) =>
  new MatrixError('M_UNKNOWN', `The homeserver ${serverName} is moving; try again shortly`, {
    status: 503,
    headers: { 'Retry-After': '1' },
  });

export const tenantUnplaced = (serverName: string) =>
  new MatrixError('M_UNKNOWN', `The homeserver ${serverName} is not available right now`, {
    status: 503,
    headers: { 'Retry-After': '1' },
  });

export const noPlacementYet = () =>
  new MatrixError('M_UNKNOWN', 'The router does not know where homeservers are yet', {
    status: 503,
    headers: { 'Retry-After': '1' },
  });
