/**
 * Splits the users of a key request into this server's users and other servers' users: the
 * first are answered from the database, the second asked of their servers
 * (`remote-e2ee-keys.ts`).
 */
import { invalidParam } from '../../core/errors.js';
import { isValidUserId, parseUserId } from '../../core/identifiers.js';

export interface UsersByServer {
  /** User IDs of this server, in request order. */
  local: string[];
  /** User IDs of other servers, in request order. */
  remote: string[];
}

/** 400 M_INVALID_PARAM when a key is not a user ID. */
export function splitUsersByServer(userIds: Iterable<string>, serverName: string): UsersByServer {
  const local: string[] = [];
  const remote: string[] = [];
  for (const userId of userIds) {
    if (!isValidUserId(userId)) throw invalidParam(`${JSON.stringify(userId)} is not a user ID`);
    if (parseUserId(userId).serverName === serverName) local.push(userId);
    else remote.push(userId);
  }
  return { local, remote };
}

/** The entries of `request` for `userIds`. */
export function pick<T>(
  request: Readonly<Record<string, T>>,
  userIds: readonly string[],
): Record<string, T> {
  return Object.fromEntries(userIds.map((userId) => [userId, request[userId] as T]));
}

/**
 * For requests from another server (`/user/keys/query`, `/user/keys/claim`): every user must be
 * of this server, else 400 M_INVALID_PARAM.
 */
export function requireLocalUsers(userIds: Iterable<string>, serverName: string): string[] {
  const { local, remote } = splitUsersByServer(userIds, serverName);
  if (remote.length > 0) {
    throw invalidParam(`${remote[0]} is not a user of this server`);
  }
  return local;
}
