/**
 * What a room upgrade moves from the old room to its replacement, in the transaction of the
 * old room's tombstone: the local aliases and the published directory listing.
 */

import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import { selectDirectoryVisibility, upsertDirectoryVisibility } from './directory.js';

/** Points every local alias of `fromRoomId` at `toRoomId`; returns the moved aliases, sorted. */
export async function moveRoomAliases(
  trx: Kysely<Database>,
  fromRoomId: string,
  toRoomId: string,
): Promise<string[]> {
  const rows = await trx
    .updateTable('room_aliases')
    .set({ room_id: toRoomId })
    .where('room_id', '=', fromRoomId)
    .returning('room_alias')
    .execute();
  return rows.map((row) => row.room_alias).sort();
}

/**
 * Lists `toRoomId` in the published directory and unlists `fromRoomId`, if `fromRoomId` was
 * listed; returns whether it was.
 */
export async function moveDirectoryListing(
  trx: Kysely<Database>,
  fromRoomId: string,
  toRoomId: string,
): Promise<boolean> {
  if ((await selectDirectoryVisibility(trx, fromRoomId)) !== 'public') return false;
  await upsertDirectoryVisibility(trx, toRoomId, 'public');
  await upsertDirectoryVisibility(trx, fromRoomId, 'private');
  return true;
}
