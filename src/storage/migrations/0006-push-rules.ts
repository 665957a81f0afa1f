import type { Kysely } from 'kysely';

/**
 * Push rules (client-server API "Push Rules"): each user's own rules, and their changes to the
 * server-default rules, which live in code (`services/push/default-push-rules.ts`) and are not
 * copied per user. JSON columns hold what clients sent, validated; flags are 0/1.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // A user's own rule. `kind` is override, content, room, sender or underride; `position` orders
  // the rules of one kind, 0 first (most important). `conditions` (override and underride) and
  // `pattern` (content) are null for the kinds that have none.
  await db.schema
    .createTable('push_rules')
    .addColumn('user_id', 'text', (col) => col.notNull())
    .addColumn('kind', 'text', (col) => col.notNull())
    .addColumn('rule_id', 'text', (col) => col.notNull())
    .addColumn('position', 'integer', (col) => col.notNull())
    .addColumn('conditions', 'text')
    .addColumn('pattern', 'text')
    .addColumn('actions', 'text', (col) => col.notNull())
    .addColumn('enabled', 'integer', (col) => col.notNull())
    .addPrimaryKeyConstraint('push_rules_pkey', ['user_id', 'kind', 'rule_id'])
    .execute();

  // A user's change to a server-default rule: null keeps the default.
  await db.schema
    .createTable('push_rule_overrides')
    .addColumn('user_id', 'text', (col) => col.notNull())
    .addColumn('kind', 'text', (col) => col.notNull())
    .addColumn('rule_id', 'text', (col) => col.notNull())
    .addColumn('enabled', 'integer')
    .addColumn('actions', 'text')
    .addPrimaryKeyConstraint('push_rule_overrides_pkey', ['user_id', 'kind', 'rule_id'])
    .execute();
}
