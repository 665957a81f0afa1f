/**
 * The client API's views of other servers' directories: an alias of another server resolved
 * by asking it (`/query/directory`), and another server's published rooms (`/publicRooms`).
 * An unreachable server or one that refuses gives the client a clear Matrix error.
 */

import type { JsonObject } from '../../core/canonical-json.js';
import { MatrixError, notFound } from '../../core/errors.js';
import type { PublicRoomsRequest } from '../rooms/room-directory.js';
import { FederationRequestError } from './federation-contracts.js';
import type { FederationClient } from './federation-contracts.js';

/** `POST /_matrix/federation/v1/publicRooms` of `server`, with the client's paging and filter. */
export async function remotePublicRooms(
  client: FederationClient,
  server: string,
  request: PublicRoomsRequest,
): Promise<JsonObject> {
  const body: JsonObject = {};
  if (request.limit !== undefined) body.limit = request.limit;
  if (request.since !== undefined) body.since = request.since;
  const filter: JsonObject = {};
  if (request.genericSearchTerm !== undefined) {
    filter.generic_search_term = request.genericSearchTerm;
  }
  if (request.roomTypes !== undefined) filter.room_types = [...request.roomTypes];
  if (Object.keys(filter).length > 0) body.filter = filter;
  try {
    return await client.request(server, {
      method: 'POST',
      path: '/_matrix/federation/v1/publicRooms',
      body,
      timeoutMs: 20_000,
    });
  } catch (error) {
    throw asClientError(server, error, `The room directory of ${server}`);
  }
}

/** A failed request to another server as the error the client gets. */
function asClientError(server: string, error: unknown, what: string): MatrixError {
  if (!(error instanceof FederationRequestError)) throw error;
  if (error.status === 0 || error.status >= 500) {
    return new MatrixError(
      'M_UNKNOWN',
      `${what} is not available: ${server} could not be reached`,
      {
        status: 502,
      },
    );
  }
  if (error.status === 404) return notFound(`${what} was not found`);
  return new MatrixError(
    'M_UNKNOWN',
    `${what} is not available: ${server} refused (${error.message})`,
    {
      status: 502,
    },
  );
}
