/**
 * The shapes of push rules (client-server API "Push Rules"): conditions, actions, rules and the
 * `global` ruleset, as clients send and receive them.
 */

/** The rule kinds, in the order they are evaluated. */
export const PUSH_RULE_KINDS = ['override', 'content', 'room', 'sender', 'underride'] as const;
export type PushRuleKind = (typeof PUSH_RULE_KINDS)[number];

/** A scalar an `event_property_is` / `event_property_contains` condition compares with. */
export type PushScalar = string | number | boolean | null;

/** A condition of a kind the spec defines, with the parameters that kind takes. */
export type KnownPushCondition =
  | { readonly kind: 'event_match'; readonly key: string; readonly pattern: string }
  | {
      readonly kind: 'event_property_is' | 'event_property_contains';
      readonly key: string;
      readonly value: PushScalar;
    }
  | { readonly kind: 'room_member_count'; readonly is: string }
  | { readonly kind: 'sender_notification_permission'; readonly key: string }
  | { readonly kind: 'contains_display_name' };

/**
 * A push condition. Kinds the server does not know are kept as clients sent them (a later spec
 * version may define them); they never match.
 */
export type PushCondition =
  KnownPushCondition | { readonly kind: string; readonly [parameter: string]: unknown };

/** A tweak action such as `{ set_tweak: 'sound', value: 'default' }`; other keys pass through. */
export interface PushTweak {
  readonly set_tweak: string;
  readonly value?: unknown;
  readonly [key: string]: unknown;
}

/** A push action: `notify`, or a tweak. */
export type PushAction = 'notify' | PushTweak;

export interface PushRule {
  readonly rule_id: string;
  readonly default: boolean;
  readonly enabled: boolean;
  readonly actions: PushAction[];
  /** `override` and `underride` rules only. */
  readonly conditions?: PushCondition[];
  /** `content` rules only: the glob matched against `content.body`. */
  readonly pattern?: string;
}

/** A push ruleset, such as the `global` one of `GET /pushrules/`, each kind in priority order. */
export type PushRuleset = { readonly [K in PushRuleKind]: PushRule[] };
