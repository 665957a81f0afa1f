import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountServer, type Json } from '../helpers/account-server.js';

const V3 = '/_matrix/client/v3';
const ALICE = '@alice:alpha.test';

/** `GET /pushrules/` and `GET /pushrules/global/` over HTTP: the server-default rules. */
describe('push rules', () => {
  let server: AccountServer;
  let alice: string;

  beforeAll(async () => {
    server = await AccountServer.start();
    alice = (await server.createUser('alice', 'alice-pw')).accessToken;
  });
  afterAll(async () => server?.stop());

  const ruleIds = (rules: Json[]) => rules.map((rule: Json) => rule.rule_id);
  const find = (rules: Json[], id: string) => rules.find((rule: Json) => rule.rule_id === id);

  it('needs an access token', async () => {
    for (const path of [`${V3}/pushrules/`, `${V3}/pushrules/global/`]) {
      const response = await server.call('GET', path);
      expect(response.status).toBe(401);
      expect(response.body.errcode).toBe('M_MISSING_TOKEN');
    }
  });

  it("serves the spec's default rules, in order, for the caller", async () => {
    const response = await server.call('GET', `${V3}/pushrules/`, { token: alice });
    expect(response.status).toBe(200);
    const global = response.body.global;
    for (const kind of ['override', 'content', 'underride', 'sender', 'room']) {
      expect(Array.isArray(global[kind])).toBe(true);
    }
    expect(ruleIds(global.override)).toEqual([
      '.m.rule.master',
      '.m.rule.suppress_notices',
      '.m.rule.invite_for_me',
      '.m.rule.member_event',
      '.m.rule.is_user_mention',
      '.m.rule.is_room_mention',
      '.m.rule.tombstone',
      '.m.rule.reaction',
      '.m.rule.room.server_acl',
      '.m.rule.suppress_edits',
    ]);
    expect(ruleIds(global.underride)).toEqual([
      '.m.rule.call',
      '.m.rule.encrypted_room_one_to_one',
      '.m.rule.room_one_to_one',
      '.m.rule.message',
      '.m.rule.encrypted',
    ]);
    // Since v1.17 the spec has no default content rules (the legacy body-matching ones are gone).
    expect(global.content).toEqual([]);
    expect(global.sender).toEqual([]);
    expect(global.room).toEqual([]);

    const all: Json[] = [...global.override, ...global.underride];
    expect(all.every((rule) => rule.default === true)).toBe(true);
    expect(all.filter((rule) => rule.enabled === false).map((rule) => rule.rule_id)).toEqual([
      '.m.rule.master',
    ]);
    expect(global.override[0]).toEqual({
      rule_id: '.m.rule.master',
      default: true,
      enabled: false,
      conditions: [],
      actions: [],
    });

    expect(find(global.override, '.m.rule.invite_for_me').conditions).toContainEqual({
      kind: 'event_match',
      key: 'state_key',
      pattern: ALICE,
    });
    expect(find(global.override, '.m.rule.is_user_mention')).toEqual({
      rule_id: '.m.rule.is_user_mention',
      default: true,
      enabled: true,
      conditions: [
        { kind: 'event_property_contains', key: 'content.m\\.mentions.user_ids', value: ALICE },
      ],
      actions: ['notify', { set_tweak: 'sound', value: 'default' }, { set_tweak: 'highlight' }],
    });

    // The global ruleset on its own is the same.
    const globalOnly = await server.call('GET', `${V3}/pushrules/global/`, { token: alice });
    expect(globalOnly.status).toBe(200);
    expect(globalOnly.body).toEqual(global);
  });

  it('names each caller in their own rules', async () => {
    const bob = (await server.createUser('bob', 'bob-pw')).accessToken;
    const response = await server.call('GET', `${V3}/pushrules/`, { token: bob });
    expect(response.status).toBe(200);
    const invite = find(response.body.global.override, '.m.rule.invite_for_me');
    expect(invite.conditions).toContainEqual({
      kind: 'event_match',
      key: 'state_key',
      pattern: '@bob:alpha.test',
    });
  });
});
