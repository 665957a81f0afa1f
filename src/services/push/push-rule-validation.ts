/**
 * Checks what clients send to the push rule endpoints (client-server API "Push Rules: API")
 * before anything is stored: rule IDs, actions and conditions. Errors are the Matrix errors the
 * client gets: 400 `M_INVALID_PARAM` for a rule ID, 400 `M_BAD_JSON` for a malformed action or
 * condition, 400 `M_MISSING_PARAM` for a content rule without `pattern`.
 */
import { badJson, invalidParam, missingParam } from '../../core/errors.js';
import { isValidRoomId, isValidUserId } from '../../core/identifiers.js';
import type { PushAction, PushCondition, PushRuleKind } from './push-rule.js';

/** Actions of older spec versions that servers MUST ignore (spec: "Historical Actions"). */
const HISTORICAL_ACTIONS: ReadonlySet<string> = new Set(['dont_notify', 'coalesce']);

/** `room_member_count`'s `is`: a decimal integer, optionally after `==`, `<`, `>`, `<=`, `>=`. */
export const MEMBER_COUNT_PATTERN = /^(==|<=|>=|<|>)?([0-9]+)$/;

/** The rule of a rule kind: its own conditions, a pattern, or neither (room and sender rules). */
export interface RuleDefinition {
  conditions: PushCondition[] | null;
  pattern: string | null;
  actions: PushAction[];
}

/** What `PUT /pushrules/global/{kind}/{ruleId}` carries (its shape already checked). */
export interface RuleBody {
  readonly actions: readonly unknown[];
  readonly conditions?: readonly unknown[];
  readonly pattern?: string;
}

/**
 * The ID of a rule a user creates or replaces: not starting with `.` (reserved for
 * server-default rules), no `/` or `\` (spec), and for room and sender rules the room or user
 * ID they apply to.
 */
export function checkUserRuleId(kind: PushRuleKind, ruleId: string): void {
  if (ruleId.startsWith('.')) {
    throw invalidParam('Rule IDs starting with "." are reserved for server-default rules');
  }
  if (ruleId.length === 0 || ruleId.includes('/') || ruleId.includes('\\')) {
    throw invalidParam('A rule ID must be non-empty and hold no "/" or "\\"');
  }
  if (kind === 'room' && !isValidRoomId(ruleId)) {
    throw invalidParam('The ID of a room rule is the ID of its room');
  }
  if (kind === 'sender' && !isValidUserId(ruleId)) {
    throw invalidParam('The ID of a sender rule is the ID of its user');
  }
}

/** A rule of `kind` from a request body: what that kind keeps, checked. */
export function parseRuleBody(kind: PushRuleKind, body: RuleBody): RuleDefinition {
  const actions = parseActions(body.actions);
  switch (kind) {
    case 'override':
    case 'underride':
      // A rule without conditions matches every event (spec); `conditions` may be left out.
      return { conditions: parseConditions(body.conditions ?? []), pattern: null, actions };
    case 'content':
      if (body.pattern === undefined) throw missingParam('A content rule needs a pattern');
      return { conditions: null, pattern: body.pattern, actions };
    case 'room':
    case 'sender':
      return { conditions: null, pattern: null, actions };
  }
}

/**
 * A list of actions: `notify` and tweaks (`{ set_tweak, value? }`, kept as sent: clients and
 * push gateways may agree on tweaks of their own). `dont_notify` and `coalesce` are dropped, as
 * the spec asks; anything else is 400 `M_BAD_JSON`.
 */
export function parseActions(value: unknown): PushAction[] {
  if (!Array.isArray(value)) throw badJson('actions must be a list');
  const actions: PushAction[] = [];
  for (const action of value) {
    if (action === 'notify') actions.push(action);
    else if (typeof action === 'string' && HISTORICAL_ACTIONS.has(action)) continue;
    else if (isTweak(action)) actions.push(action);
    else throw badJson(`Unrecognised action: ${JSON.stringify(action)}`);
  }
  return actions;
}

function isTweak(value: unknown): value is PushAction & object {
  return isObject(value) && typeof value['set_tweak'] === 'string';
}

/**
 * A list of conditions. Each is an object with a string `kind`; the kinds the spec defines must
 * carry their parameters with the right types. Kinds the server does not know are kept as sent
 * (they never match).
 */
export function parseConditions(value: unknown): PushCondition[] {
  if (!Array.isArray(value)) throw badJson('conditions must be a list');
  return value.map((condition) => {
    if (!isObject(condition) || typeof condition['kind'] !== 'string') {
      throw badJson('Each condition must be an object with a string kind');
    }
    checkKnownCondition(condition as { kind: string } & Record<string, unknown>);
    return condition as PushCondition;
  });
}

function checkKnownCondition(condition: { kind: string } & Record<string, unknown>): void {
  const requireString = (name: string) => {
    if (typeof condition[name] !== 'string') {
      throw badJson(`A ${condition.kind} condition needs a string ${name}`);
    }
  };
  switch (condition.kind) {
    case 'event_match':
      requireString('key');
      requireString('pattern');
      return;
    case 'event_property_is':
    case 'event_property_contains':
      requireString('key');
      if (!Object.hasOwn(condition, 'value') || !isPushScalar(condition['value'])) {
        throw badJson(
          `A ${condition.kind} condition needs a value: a string, an integer, a boolean or null`,
        );
      }
      return;
    case 'room_member_count':
      requireString('is');
      if (!MEMBER_COUNT_PATTERN.test(condition['is'] as string)) {
        throw badJson(
          'room_member_count: "is" must be an integer, optionally after ==, <, >, <=, >=',
        );
      }
      return;
    case 'sender_notification_permission':
      requireString('key');
      return;
    default:
      // contains_display_name takes no parameter; unknown kinds are kept as they are.
      return;
  }
}

/** Strings, integers within ±(2^53−1), booleans and null: what property conditions compare. */
export function isPushScalar(value: unknown): boolean {
  return (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isSafeInteger(value))
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
