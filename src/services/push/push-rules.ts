/**
 * Each user's push rules (client-server API "Push Rules"): the ruleset clients read, and the
 * changes `/pushrules/global/{kind}/{ruleId}` makes. Users' own rules and their changes to the
 * server-default rules are stored (`storage/push/push-rules.ts`); the defaults live in code.
 *
 * Every change is one transaction that also writes the whole new ruleset as the user's global
 * account data `m.push_rules` ({ global: ruleset }), which is how clients learn of it through
 * `/sync` (spec "Push Rules: Events"); the account data stream wakes their long-polls.
 *
 * Rulesets are kept compiled per user in a bounded cache of the instance, dropped on change:
 * notification counts evaluate them for every new event.
 */
import type { Kysely } from 'kysely';
import { invalidParam, notFound } from '../../core/errors.js';
import {
  deletePushRulesOfUser,
  deleteUserPushRule,
  selectPushRuleOverrides,
  selectUserPushRules,
  updateUserPushRule,
  updateUserPushRulePositions,
  upsertPushRuleOverride,
  upsertUserPushRule,
} from '../../storage/push/push-rules.js';
import type { Database } from '../../storage/schema.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import type { AccountData } from '../account-data/account-data.js';
import { LruCache } from '../room-graph/lru-cache.js';
import { KeyedLock } from '../rooms/keyed-lock.js';
import { defaultPushRules } from './default-push-rules.js';
import type { PushAction, PushRule, PushRuleKind, PushRuleset } from './push-rule.js';
import { PushRuleEvaluator } from './push-rule-evaluator.js';
import { buildPushRuleset, findPushRule, isServerDefaultRuleId } from './push-ruleset.js';
import {
  checkUserRuleId,
  parseActions,
  parseRuleBody,
  type RuleBody,
} from './push-rule-validation.js';

/** The account data type clients read push rules from. */
export const PUSH_RULES_ACCOUNT_DATA_TYPE = 'm.push_rules';
/** Users whose compiled rules are kept per instance. */
const DEFAULT_CACHE_SIZE = 1024;

/** A user's ruleset with its evaluator. */
export interface CompiledPushRules {
  readonly ruleset: PushRuleset;
  readonly evaluator: PushRuleEvaluator;
  /** Equal for equal rulesets: what notification counts were computed with. */
  readonly fingerprint: string;
}

/** Where `PUT` places a rule among the user's rules of its kind (spec `before` / `after`). */
export interface RulePlacement {
  readonly before?: string;
  readonly after?: string;
}

export interface PushRulesOptions {
  /** Users whose compiled rules are kept (default 1024). */
  cacheSize?: number;
}

export class PushRules {
  readonly #cache: LruCache<string, CompiledPushRules>;
  /** Changes are read-modify-write (positions): one at a time per user. */
  readonly #lock = new KeyedLock();
  /** Moves on every change, so a load that raced with a change is not cached. */
  #generation = 0;

  constructor(
    private readonly db: TenantDatabase,
    private readonly accountData: AccountData,
    options: PushRulesOptions = {},
  ) {
    this.#cache = new LruCache(options.cacheSize ?? DEFAULT_CACHE_SIZE);
  }

  /** The user's `global` ruleset, in evaluation order. */
  async ruleset(userId: string): Promise<PushRuleset> {
    return (await this.compiled(userId)).ruleset;
  }

  /** The user's ruleset and its evaluator (cached). */
  async compiled(userId: string): Promise<CompiledPushRules> {
    const cached = this.#cache.get(userId);
    if (cached !== undefined) return cached;
    const generation = this.#generation;
    const ruleset = await this.db.read((db) => loadRuleset(db, userId));
    const compiled: CompiledPushRules = {
      ruleset,
      evaluator: new PushRuleEvaluator(ruleset),
      fingerprint: JSON.stringify(ruleset),
    };
    if (generation === this.#generation) this.#cache.set(userId, compiled);
    return compiled;
  }

  /** One rule; 404 `M_NOT_FOUND` if the user has no such rule of that kind. */
  async getRule(userId: string, kind: PushRuleKind, ruleId: string): Promise<PushRule> {
    const rule = findPushRule(await this.ruleset(userId), kind, ruleId);
    if (rule === undefined) throw notFound('The push rule was not found');
    return rule;
  }

  /**
   * Creates or replaces a user-defined rule. A new rule is enabled and, unless placed, the most
   * important of its kind; a replaced one keeps its place and whether it is enabled. `before`
   * and `after` name user-defined rules of the same kind (with both, `before` decides, as the
   * spec says); naming any other rule is 400 `M_INVALID_PARAM`.
   */
  async putRule(
    userId: string,
    kind: PushRuleKind,
    ruleId: string,
    body: RuleBody,
    placement: RulePlacement = {},
  ): Promise<void> {
    checkUserRuleId(kind, ruleId);
    const definition = parseRuleBody(kind, body);
    const before = nonEmpty(placement.before);
    const after = nonEmpty(placement.after);
    for (const anchor of [before, after]) {
      if (anchor === undefined) continue;
      if (isServerDefaultRuleId(anchor)) {
        throw invalidParam('A rule cannot be placed relative to a server-default rule');
      }
      if (anchor === ruleId) throw invalidParam('A rule cannot be placed relative to itself');
    }
    await this.#change(userId, async (trx) => {
      const own = (await selectUserPushRules(trx, userId)).filter((rule) => rule.kind === kind);
      const existing = own.findIndex((rule) => rule.ruleId === ruleId);
      const order = own.map((rule) => rule.ruleId).filter((id) => id !== ruleId);
      for (const anchor of [before, after]) {
        if (anchor !== undefined && !order.includes(anchor)) {
          throw invalidParam(`before/after rule not found: ${anchor}`);
        }
      }
      let position: number;
      if (before !== undefined) position = order.indexOf(before);
      else if (after !== undefined) position = order.indexOf(after) + 1;
      else position = existing >= 0 ? existing : 0;
      order.splice(position, 0, ruleId);
      await upsertUserPushRule(trx, userId, {
        kind,
        ruleId,
        position,
        conditions: definition.conditions,
        pattern: definition.pattern,
        actions: definition.actions,
        enabled: existing >= 0 ? (own[existing]?.enabled ?? true) : true,
      });
      await updateUserPushRulePositions(trx, userId, kind, order);
    });
  }

  /**
   * Deletes a user-defined rule: 404 `M_NOT_FOUND` if there is none; server-default rules
   * cannot be deleted (400 `M_INVALID_PARAM`), only disabled.
   */
  async deleteRule(userId: string, kind: PushRuleKind, ruleId: string): Promise<void> {
    if (isServerDefaultRuleId(ruleId)) {
      if (isDefaultRule(userId, kind, ruleId)) {
        throw invalidParam('Server-default rules cannot be deleted');
      }
      throw notFound('The push rule was not found');
    }
    await this.#change(userId, async (trx) => {
      if (!(await deleteUserPushRule(trx, userId, kind, ruleId))) {
        throw notFound('The push rule was not found');
      }
    });
  }

  /** Enables or disables any rule, server-default ones included; 404 for an unknown rule. */
  async setEnabled(
    userId: string,
    kind: PushRuleKind,
    ruleId: string,
    enabled: boolean,
  ): Promise<void> {
    await this.#changeRule(userId, kind, ruleId, { enabled });
  }

  /** Sets the actions of any rule, server-default ones included; 404 for an unknown rule. */
  async setActions(
    userId: string,
    kind: PushRuleKind,
    ruleId: string,
    actions: unknown,
  ): Promise<void> {
    await this.#changeRule(userId, kind, ruleId, { actions: parseActions(actions) });
  }

  /** Forgets a deactivated user's rules (their account data is deleted with the account). */
  async forgetUser(userId: string): Promise<void> {
    await this.#lock.run(userId, async () => {
      await this.db.transact((trx) => deletePushRulesOfUser(trx, userId));
      this.#invalidate(userId);
    });
  }

  async #changeRule(
    userId: string,
    kind: PushRuleKind,
    ruleId: string,
    change: { enabled?: boolean; actions?: PushAction[] },
  ): Promise<void> {
    if (isServerDefaultRuleId(ruleId)) {
      if (!isDefaultRule(userId, kind, ruleId)) throw notFound('The push rule was not found');
      await this.#change(userId, (trx) =>
        upsertPushRuleOverride(trx, userId, kind, ruleId, change),
      );
      return;
    }
    await this.#change(userId, async (trx) => {
      if (!(await updateUserPushRule(trx, userId, kind, ruleId, change))) {
        throw notFound('The push rule was not found');
      }
    });
  }

  /**
   * Applies a change and writes the resulting ruleset as `m.push_rules` account data, in one
   * transaction; then drops the cached rules and announces the account data.
   */
  async #change(userId: string, apply: (trx: Kysely<Database>) => Promise<void>): Promise<void> {
    await this.#lock.run(userId, async () => {
      const change = await this.db.transact(async (trx) => {
        await apply(trx);
        const ruleset = await loadRuleset(trx, userId);
        return this.accountData.setManagedIn(trx, userId, null, PUSH_RULES_ACCOUNT_DATA_TYPE, {
          global: ruleset,
        });
      });
      this.#invalidate(userId);
      await this.accountData.announce(change);
    });
  }

  #invalidate(userId: string): void {
    this.#generation += 1;
    this.#cache.delete(userId);
  }
}

async function loadRuleset(db: Kysely<Database>, userId: string): Promise<PushRuleset> {
  const own = await selectUserPushRules(db, userId);
  const overrides = await selectPushRuleOverrides(db, userId);
  return buildPushRuleset(userId, own, overrides);
}

function isDefaultRule(userId: string, kind: PushRuleKind, ruleId: string): boolean {
  return defaultPushRules(userId)[kind].some((rule) => rule.rule_id === ruleId);
}

/** `before=` / `after=` with an empty value are left out, as Synapse does. */
function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
