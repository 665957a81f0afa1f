/**
 * Queries of the push rule tables: a user's own rules (`push_rules`) and their changes to the
 * server-default rules (`push_rule_overrides`). JSON columns are stored and returned as parsed
 * values; what they hold is validated by the push rules service before it writes them.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

/** A user's own rule as stored. */
export interface StoredPushRule {
  kind: string;
  ruleId: string;
  /** Order among the user's rules of the kind, 0 first. */
  position: number;
  /** Null for content, room and sender rules. */
  conditions: unknown[] | null;
  /** Content rules only. */
  pattern: string | null;
  actions: unknown[];
  enabled: boolean;
}

/** A user's change to a server-default rule; undefined keeps the default. */
export interface StoredPushRuleOverride {
  kind: string;
  ruleId: string;
  enabled: boolean | undefined;
  actions: unknown[] | undefined;
}

/** A user's own rules, by kind then position. */
export async function selectUserPushRules(
  db: Kysely<Database>,
  userId: string,
): Promise<StoredPushRule[]> {
  const rows = await db
    .selectFrom('push_rules')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('kind')
    .orderBy('position')
    .orderBy('rule_id')
    .execute();
  return rows.map((row) => ({
    kind: row.kind,
    ruleId: row.rule_id,
    position: Number(row.position),
    conditions: row.conditions === null ? null : (JSON.parse(row.conditions) as unknown[]),
    pattern: row.pattern,
    actions: JSON.parse(row.actions) as unknown[],
    enabled: row.enabled === 1,
  }));
}

/** A user's changes to server-default rules. */
export async function selectPushRuleOverrides(
  db: Kysely<Database>,
  userId: string,
): Promise<StoredPushRuleOverride[]> {
  const rows = await db
    .selectFrom('push_rule_overrides')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('kind')
    .orderBy('rule_id')
    .execute();
  return rows.map((row) => ({
    kind: row.kind,
    ruleId: row.rule_id,
    enabled: row.enabled === null ? undefined : row.enabled === 1,
    actions: row.actions === null ? undefined : (JSON.parse(row.actions) as unknown[]),
  }));
}

/** Stores a user's rule, replacing the one of the same kind and ID (position included). */
export async function upsertUserPushRule(
  trx: Kysely<Database>,
  userId: string,
  rule: StoredPushRule,
): Promise<void> {
  const values = {
    position: rule.position,
    conditions: rule.conditions === null ? null : JSON.stringify(rule.conditions),
    pattern: rule.pattern,
    actions: JSON.stringify(rule.actions),
    enabled: rule.enabled ? 1 : 0,
  };
  await trx
    .insertInto('push_rules')
    .values({ user_id: userId, kind: rule.kind, rule_id: rule.ruleId, ...values })
    .onConflict((oc) => oc.columns(['user_id', 'kind', 'rule_id']).doUpdateSet(values))
    .execute();
}

/**
 * Gives the user's rules of `kind` the positions of their order in `ruleIds` (0 first); rows
 * already there are not written.
 */
export async function updateUserPushRulePositions(
  trx: Kysely<Database>,
  userId: string,
  kind: string,
  ruleIds: readonly string[],
): Promise<void> {
  const rows = await trx
    .selectFrom('push_rules')
    .select(['rule_id', 'position'])
    .where('user_id', '=', userId)
    .where('kind', '=', kind)
    .execute();
  const current = new Map(rows.map((row) => [row.rule_id, Number(row.position)]));
  for (const [position, ruleId] of ruleIds.entries()) {
    if (!current.has(ruleId) || current.get(ruleId) === position) continue;
    await trx
      .updateTable('push_rules')
      .set({ position })
      .where('user_id', '=', userId)
      .where('kind', '=', kind)
      .where('rule_id', '=', ruleId)
      .execute();
  }
}

/** Changes `enabled` and/or `actions` of a user's rule; false if there is no such rule. */
export async function updateUserPushRule(
  trx: Kysely<Database>,
  userId: string,
  kind: string,
  ruleId: string,
  change: { enabled?: boolean; actions?: unknown[] },
): Promise<boolean> {
  const set: { enabled?: number; actions?: string } = {};
  if (change.enabled !== undefined) set.enabled = change.enabled ? 1 : 0;
  if (change.actions !== undefined) set.actions = JSON.stringify(change.actions);
  if (Object.keys(set).length === 0) throw new RangeError('nothing to change');
  const result = await trx
    .updateTable('push_rules')
    .set(set)
    .where('user_id', '=', userId)
    .where('kind', '=', kind)
    .where('rule_id', '=', ruleId)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Deletes a user's rule; false if there was none. */
export async function deleteUserPushRule(
  trx: Kysely<Database>,
  userId: string,
  kind: string,
  ruleId: string,
): Promise<boolean> {
  const result = await trx
    .deleteFrom('push_rules')
    .where('user_id', '=', userId)
    .where('kind', '=', kind)
    .where('rule_id', '=', ruleId)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** Records a change to a server-default rule, keeping what an earlier change set otherwise. */
export async function upsertPushRuleOverride(
  trx: Kysely<Database>,
  userId: string,
  kind: string,
  ruleId: string,
  change: { enabled?: boolean; actions?: unknown[] },
): Promise<void> {
  const set: { enabled?: number; actions?: string } = {};
  if (change.enabled !== undefined) set.enabled = change.enabled ? 1 : 0;
  if (change.actions !== undefined) set.actions = JSON.stringify(change.actions);
  if (Object.keys(set).length === 0) throw new RangeError('nothing to change');
  await trx
    .insertInto('push_rule_overrides')
    .values({
      user_id: userId,
      kind,
      rule_id: ruleId,
      enabled: set.enabled ?? null,
      actions: set.actions ?? null,
    })
    .onConflict((oc) => oc.columns(['user_id', 'kind', 'rule_id']).doUpdateSet(set))
    .execute();
}

/** Forgets every rule and change of a user (deactivation). */
export async function deletePushRulesOfUser(trx: Kysely<Database>, userId: string): Promise<void> {
  await trx.deleteFrom('push_rules').where('user_id', '=', userId).execute();
  await trx.deleteFrom('push_rule_overrides').where('user_id', '=', userId).execute();
}
