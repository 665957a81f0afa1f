import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

export interface UiaSessionRecord {
  sessionId: string;
  action: string;
  userId: string | null;
  completed: string[];
  registrationToken: string | null;
  createdTs: number;
}

export async function insertUiaSession(
  trx: Kysely<Database>,
  session: UiaSessionRecord,
): Promise<void> {
  await trx
    .insertInto('uia_sessions')
    .values({
      session_id: session.sessionId,
      action: session.action,
      user_id: session.userId,
      completed: JSON.stringify(session.completed),
      registration_token: session.registrationToken,
      created_ts: session.createdTs,
    })
    .execute();
}

export async function selectUiaSession(
  db: Kysely<Database>,
  sessionId: string,
  options: { forUpdate?: boolean } = {},
): Promise<UiaSessionRecord | undefined> {
  const row = await db
    .selectFrom('uia_sessions')
    .selectAll()
    .where('session_id', '=', sessionId)
    .$if(options.forUpdate === true, (qb) => qb.forUpdate())
    .executeTakeFirst();
  if (row === undefined) return undefined;
  return {
    sessionId: row.session_id,
    action: row.action,
    userId: row.user_id,
    completed: parseStages(row.completed),
    registrationToken: row.registration_token,
    createdTs: row.created_ts,
  };
}

export async function updateUiaSession(
  trx: Kysely<Database>,
  sessionId: string,
  fields: { userId: string | null; completed: string[]; registrationToken: string | null },
): Promise<void> {
  await trx
    .updateTable('uia_sessions')
    .set({
      user_id: fields.userId,
      completed: JSON.stringify(fields.completed),
      registration_token: fields.registrationToken,
    })
    .where('session_id', '=', sessionId)
    .execute();
}

/** Deletes a session; returns it as it was, or undefined if it was gone already. */
export async function takeUiaSession(
  trx: Kysely<Database>,
  sessionId: string,
): Promise<{ registration_token: string | null } | undefined> {
  return trx
    .deleteFrom('uia_sessions')
    .where('session_id', '=', sessionId)
    .returning(['registration_token'])
    .executeTakeFirst();
}

/** Deletes sessions created before `cutoff`; returns the registration tokens they held. */
export async function deleteUiaSessionsBefore(
  trx: Kysely<Database>,
  cutoff: number,
): Promise<string[]> {
  const rows = await trx
    .deleteFrom('uia_sessions')
    .where('created_ts', '<', cutoff)
    .returning(['registration_token'])
    .execute();
  return rows.flatMap((row) => (row.registration_token === null ? [] : [row.registration_token]));
}

function parseStages(text: string): string[] {
  const parsed: unknown = JSON.parse(text);
  return Array.isArray(parsed) ? parsed.filter((s): s is string => typeof s === 'string') : [];
}
