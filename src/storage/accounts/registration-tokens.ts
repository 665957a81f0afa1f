import type { Kysely, Selectable } from 'kysely';
import { sql } from 'kysely';
import type { Database, RegistrationTokensTable } from '../schema.js';

export type RegistrationTokenRow = Selectable<RegistrationTokensTable>;

/** Inserts a token; returns false when it exists already. */
export async function insertRegistrationToken(
  trx: Kysely<Database>,
  token: { token: string; usesAllowed: number | null; expiryTime: number | null },
): Promise<boolean> {
  const result = await trx
    .insertInto('registration_tokens')
    .values({
      token: token.token,
      uses_allowed: token.usesAllowed,
      pending: 0,
      completed: 0,
      expiry_time: token.expiryTime,
    })
    .onConflict((oc) => oc.column('token').doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
}

export async function selectRegistrationToken(
  db: Kysely<Database>,
  token: string,
  options: { forUpdate?: boolean } = {},
): Promise<RegistrationTokenRow | undefined> {
  return db
    .selectFrom('registration_tokens')
    .selectAll()
    .where('token', '=', token)
    .$if(options.forUpdate === true, (qb) => qb.forUpdate())
    .executeTakeFirst();
}

export async function selectRegistrationTokens(
  db: Kysely<Database>,
): Promise<RegistrationTokenRow[]> {
  return db.selectFrom('registration_tokens').selectAll().orderBy('token').execute();
}

/** Counts a registration in progress against the token. */
export async function addPendingUse(trx: Kysely<Database>, token: string): Promise<void> {
  await trx
    .updateTable('registration_tokens')
    .set({ pending: sql`pending + 1` })
    .where('token', '=', token)
    .execute();
}

/** A registration in progress was abandoned: its use no longer counts. */
export async function releasePendingUse(trx: Kysely<Database>, token: string): Promise<void> {
  await trx
    .updateTable('registration_tokens')
    .set({ pending: sql`pending - 1` })
    .where('token', '=', token)
    .where('pending', '>', 0)
    .execute();
}

/** A registration in progress completed: its pending use becomes a completed one. */
export async function completePendingUse(trx: Kysely<Database>, token: string): Promise<void> {
  await trx
    .updateTable('registration_tokens')
    .set({ pending: sql`pending - 1`, completed: sql`completed + 1` })
    .where('token', '=', token)
    .where('pending', '>', 0)
    .execute();
}
