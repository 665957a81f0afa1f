/**
 * Splits the users of a key request into this server's and other servers' users. Federation is
 * not there yet: other servers go to `failures`, as Synapse reports servers it cannot reach.
 */
import type { JsonObject } from '../../core/canonical-json.js';
import { invalidParam } from '../../core/errors.js';
import { isValidUserId, parseUserId } from '../../core/identifiers.js';

/** The `failures` entry of a server whose users' keys could not be fetched. */
export const FEDERATION_PENDING_FAILURE: JsonObject = Object.freeze({
  status: 503,
  message: 'Federation is not supported by this server yet',
});

export interface UsersByServer {
  /** User IDs of this server, in request order. */
  local: string[];
  /** Server names of the other users. */
  remoteServers: Set<string>;
}

/** 400 M_INVALID_PARAM when a key is not a user ID. */
export function splitUsersByServer(userIds: Iterable<string>, serverName: string): UsersByServer {
  const local: string[] = [];
  const remoteServers = new Set<string>();
  for (const userId of userIds) {
    if (!isValidUserId(userId)) throw invalidParam(`${JSON.stringify(userId)} is not a user ID`);
    const server = parseUserId(userId).serverName;
    if (server === serverName) local.push(userId);
    else remoteServers.add(server);
  }
  return { local, remoteServers };
}

/** `failures` for the servers federation cannot reach yet. */
export function federationFailures(servers: Iterable<string>): Record<string, JsonObject> {
  const failures: Record<string, JsonObject> = {};
  for (const server of servers) failures[server] = { ...FEDERATION_PENDING_FAILURE };
  return failures;
}
