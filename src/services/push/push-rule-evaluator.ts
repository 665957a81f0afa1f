/**
 * Evaluates a user's push rules against an event (client-server API "Push Rules"): the first
 * enabled rule that matches, in the order override, content, room, sender, underride, decides
 * the actions; `notify` makes the event count as a notification, a `highlight` tweak (no value
 * means true) as a highlight. No I/O: the caller gives the event as JSON and the room's context.
 *
 * Rules are compiled once per ruleset (globs, property paths), so evaluating an event costs a
 * few property lookups and string comparisons per rule until one matches.
 */
import { compileGlob, type Glob } from './glob.js';
import type { PushAction, PushRule, PushRuleKind, PushRuleset } from './push-rule.js';
import { PUSH_RULE_KINDS } from './push-rule.js';
import { MEMBER_COUNT_PATTERN, isPushScalar } from './push-rule-validation.js';

/** The power levels `sender_notification_permission` reads (`PowerLevels` has them). */
export interface PushPowerLevels {
  userLevel(userId: string): number;
  /** `notifications.<key>` of `m.room.power_levels`, 50 when absent. */
  notificationLevel(key: string): number;
}

/** What rules need to know besides the event. */
export interface PushContext {
  /** The user whose rules these are: their own events never notify them. */
  readonly userId: string;
  /** The room's current number of joined members (`room_member_count`). */
  readonly memberCount: number;
  /** The user's display name in the room (`contains_display_name`), if they have one. */
  readonly displayName: string | null;
  readonly powerLevels: PushPowerLevels;
}

/** An event as JSON: `type`, `sender`, `room_id`, `content`, `state_key`, … */
export type PushEvent = Readonly<Record<string, unknown>>;

export interface PushOutcome {
  readonly notify: boolean;
  readonly highlight: boolean;
  /** The deciding rule's actions; empty when no rule matched. */
  readonly actions: readonly PushAction[];
  /** The deciding rule, if one matched. */
  readonly rule?: { readonly kind: PushRuleKind; readonly ruleId: string };
}

const NO_NOTIFICATION: PushOutcome = { notify: false, highlight: false, actions: [] };
/** Display names whose globs are kept per evaluator (a user has one per room at most). */
const MAX_DISPLAY_NAMES = 64;

type Test = (event: PushEvent, context: PushContext) => boolean;

interface CompiledRule {
  readonly kind: PushRuleKind;
  readonly rule: PushRule;
  readonly test: Test;
}

export class PushRuleEvaluator {
  readonly #rules: CompiledRule[] = [];
  readonly #displayNames = new Map<string, Glob>();

  constructor(ruleset: PushRuleset) {
    for (const kind of PUSH_RULE_KINDS) {
      for (const rule of ruleset[kind]) {
        if (rule.enabled) this.#rules.push({ kind, rule, test: this.#compileRule(kind, rule) });
      }
    }
  }

  /** What the rules say about `event` for the context's user. */
  evaluate(event: PushEvent, context: PushContext): PushOutcome {
    if (event['sender'] === context.userId) return NO_NOTIFICATION;
    for (const { kind, rule, test } of this.#rules) {
      if (!test(event, context)) continue;
      return {
        notify: rule.actions.includes('notify'),
        highlight: highlightOf(rule.actions),
        actions: rule.actions,
        rule: { kind, ruleId: rule.rule_id },
      };
    }
    return NO_NOTIFICATION;
  }

  #compileRule(kind: PushRuleKind, rule: PushRule): Test {
    switch (kind) {
      case 'override':
      case 'underride': {
        const tests = (rule.conditions ?? []).map((condition) =>
          this.#compileCondition(condition as Readonly<Record<string, unknown>>),
        );
        return (event, context) => tests.every((test) => test(event, context));
      }
      case 'content':
        return typeof rule.pattern === 'string' ? bodyTest(compileGlob(rule.pattern)) : () => false;
      case 'room':
        return (event) => event['room_id'] === rule.rule_id;
      case 'sender':
        return (event) => event['sender'] === rule.rule_id;
    }
  }

  #compileCondition(condition: Readonly<Record<string, unknown>>): Test {
    const key = condition['key'];
    switch (condition['kind']) {
      case 'event_match': {
        const pattern = condition['pattern'];
        if (typeof key !== 'string' || typeof pattern !== 'string') return never;
        const path = parseDottedPath(key);
        const glob = compileGlob(pattern);
        // `content.body` matches between word boundaries (spec), other keys the whole value.
        const words = key === 'content.body';
        return (event) => {
          const value = valueAt(event, path);
          if (typeof value !== 'string') return false;
          return words ? glob.matchesWords(value) : glob.matchesWhole(value);
        };
      }
      case 'event_property_is': {
        const expected = condition['value'];
        if (typeof key !== 'string' || !isPushScalar(expected)) return never;
        const path = parseDottedPath(key);
        return (event) => {
          const value = valueAt(event, path);
          return isPushScalar(value) && value === expected;
        };
      }
      case 'event_property_contains': {
        const expected = condition['value'];
        if (typeof key !== 'string' || !isPushScalar(expected)) return never;
        const path = parseDottedPath(key);
        return (event) => {
          const value = valueAt(event, path);
          return (
            Array.isArray(value) && value.some((item) => isPushScalar(item) && item === expected)
          );
        };
      }
      case 'contains_display_name':
        return (event, context) => {
          const body = valueAt(event, BODY_PATH);
          const name = context.displayName;
          if (typeof body !== 'string' || name === null || name === '') return false;
          return this.#displayNameGlob(name).matchesWords(body);
        };
      case 'room_member_count': {
        const is = condition['is'];
        const parsed = typeof is === 'string' ? MEMBER_COUNT_PATTERN.exec(is) : null;
        if (parsed === null) return never;
        const compare = COMPARISONS[parsed[1] ?? '=='] as (a: number, b: number) => boolean;
        const bound = Number(parsed[2]);
        return (_event, context) => compare(context.memberCount, bound);
      }
      case 'sender_notification_permission': {
        if (typeof key !== 'string') return never;
        return (event, context) => {
          const sender = event['sender'];
          if (typeof sender !== 'string') return false;
          return (
            context.powerLevels.userLevel(sender) >= context.powerLevels.notificationLevel(key)
          );
        };
      }
      default:
        // Unknown conditions never match (spec), which disables their rule.
        return never;
    }
  }

  #displayNameGlob(name: string): Glob {
    let glob = this.#displayNames.get(name);
    if (glob === undefined) {
      if (this.#displayNames.size >= MAX_DISPLAY_NAMES) this.#displayNames.clear();
      glob = compileGlob(name, { literal: true });
      this.#displayNames.set(name, glob);
    }
    return glob;
  }
}

const never: Test = () => false;
const BODY_PATH = ['content', 'body'];

const COMPARISONS: Readonly<Record<string, (count: number, bound: number) => boolean>> = {
  '==': (count, bound) => count === bound,
  '<': (count, bound) => count < bound,
  '>': (count, bound) => count > bound,
  '<=': (count, bound) => count <= bound,
  '>=': (count, bound) => count >= bound,
};

function bodyTest(glob: Glob): Test {
  return (event) => {
    const body = valueAt(event, BODY_PATH);
    return typeof body === 'string' && glob.matchesWords(body);
  };
}

/** The `highlight` tweak of a list of actions: its value, true when it has none; else false. */
export function highlightOf(actions: readonly PushAction[]): boolean {
  for (const action of actions) {
    if (typeof action === 'object' && action.set_tweak === 'highlight') {
      return action.value === undefined || action.value === true;
    }
  }
  return false;
}

/**
 * A dot-separated property path (appendices "Dot-separated property paths"): `\.` is a literal
 * dot and `\\` a literal backslash inside a property name; any other `\x` stays as it is.
 */
export function parseDottedPath(key: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < key.length; i++) {
    const char = key[i] as string;
    const following = key[i + 1];
    if (char === '\\' && (following === '.' || following === '\\')) {
      current += following;
      i++;
    } else if (char === '.') {
      parts.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  parts.push(current);
  return parts;
}

/** The value at a property path of the event; undefined when a step is missing or not an object. */
function valueAt(event: PushEvent, path: readonly string[]): unknown {
  let value: unknown = event;
  for (const name of path) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    if (!Object.hasOwn(value, name)) return undefined;
    value = (value as Record<string, unknown>)[name];
  }
  return value;
}
