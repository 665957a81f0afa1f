import type { Kysely } from 'kysely';
import { MAX_IDS_PER_QUERY, batches } from '../room-graph/batches.js';
import type { Database } from '../schema.js';
import { nextStreamPosition } from './stream-positions.js';

export interface PresenceRecord {
  userId: string;
  presence: string;
  statusMsg: string | null;
  lastActiveTs: number;
  currentlyActive: boolean;
  streamId: number;
}

/** A presence row with the user's profile, for `m.presence` events. */
export interface PresenceWithProfile extends PresenceRecord {
  displayname: string | null;
  avatarUrl: string | null;
}

/** `forUpdate` (PostgreSQL only) locks the row until the transaction ends. */
export async function selectPresence(
  db: Kysely<Database>,
  userId: string,
  options: { forUpdate?: boolean } = {},
): Promise<PresenceRecord | undefined> {
  let query = db.selectFrom('presence').selectAll().where('user_id', '=', userId);
  if (options.forUpdate === true) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  return row === undefined ? undefined : toRecord(row);
}

/**
 * Stores a user's presence. With `advance` the row takes the next position of the presence
 * stream (returned); without, it keeps its position (only the activity time moved, which
 * clients need not be told about) and the function returns that position.
 */
export async function upsertPresence(
  trx: Kysely<Database>,
  state: Omit<PresenceRecord, 'streamId'>,
  previousStreamId: number | undefined,
  advance: boolean,
): Promise<number> {
  const streamId =
    advance || previousStreamId === undefined
      ? await nextStreamPosition(trx, 'presence')
      : previousStreamId;
  const values = {
    presence: state.presence,
    status_msg: state.statusMsg,
    last_active_ts: state.lastActiveTs,
    currently_active: state.currentlyActive ? 1 : 0,
    stream_id: streamId,
  };
  await trx
    .insertInto('presence')
    .values({ user_id: state.userId, ...values })
    .onConflict((oc) => oc.column('user_id').doUpdateSet(values))
    .execute();
  return streamId;
}

/**
 * The presence of users who are not offline, most recently changed first, at most `limit`: a
 * new tenant instance takes them over to time them out.
 */
export async function selectPresenceNotOffline(
  db: Kysely<Database>,
  limit: number,
): Promise<PresenceRecord[]> {
  const rows = await db
    .selectFrom('presence')
    .selectAll()
    .where('presence', '!=', 'offline')
    .orderBy('stream_id', 'desc')
    .limit(limit)
    .execute();
  return rows.map(toRecord);
}

/**
 * Presence of `userIds` changed at positions in (`from`, `to`], oldest first, with each user's
 * displayname and avatar when they are a local user with a profile.
 */
export async function selectPresenceBetween(
  db: Kysely<Database>,
  userIds: readonly string[],
  from: number,
  to: number,
): Promise<PresenceWithProfile[]> {
  const records: PresenceWithProfile[] = [];
  if (to <= from) return records;
  for (const batch of batches([...new Set(userIds)], MAX_IDS_PER_QUERY)) {
    const rows = await db
      .selectFrom('presence')
      .leftJoin('profiles', 'profiles.user_id', 'presence.user_id')
      .selectAll('presence')
      .select(['profiles.displayname', 'profiles.avatar_url'])
      .where('presence.user_id', 'in', batch)
      .where('presence.stream_id', '>', from)
      .where('presence.stream_id', '<=', to)
      .execute();
    for (const row of rows) {
      records.push({ ...toRecord(row), displayname: row.displayname, avatarUrl: row.avatar_url });
    }
  }
  return records.sort((a, b) => a.streamId - b.streamId);
}

function toRecord(row: {
  user_id: string;
  presence: string;
  status_msg: string | null;
  last_active_ts: number;
  currently_active: number;
  stream_id: number;
}): PresenceRecord {
  return {
    userId: row.user_id,
    presence: row.presence,
    statusMsg: row.status_msg,
    lastActiveTs: Number(row.last_active_ts),
    currentlyActive: row.currently_active === 1,
    streamId: Number(row.stream_id),
  };
}
