import { ClientEvent, PushRuleKind, SyncState, createClient } from 'matrix-js-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountServer, type Json } from '../helpers/account-server.js';
import { createRoomUsers, enc, type RoomUser } from '../helpers/room-users.js';

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

/** One rule and its parts over HTTP: `/pushrules/global/{kind}/{ruleId}[/enabled|/actions]`. */
describe('push rule endpoints', () => {
  let server: AccountServer;
  let alice: RoomUser;
  let bob: RoomUser;
  const rule = (kind: string, ruleId: string, suffix = '') =>
    `/pushrules/global/${kind}/${enc(ruleId)}${suffix}`;
  const ids = async (user: RoomUser, kind: string) =>
    ((await user.ok('GET', '/pushrules/global/'))[kind] as Json[]).map((r: Json) => r.rule_id);
  const expectError = async (
    user: RoomUser,
    method: string,
    path: string,
    body: unknown,
    status: number,
    errcode: string,
  ) => {
    const response = await user.call(method, path, body);
    expect(response, `${method} ${path} ${JSON.stringify(body)}`).toMatchObject({
      status,
      body: { errcode },
    });
  };

  beforeAll(async () => {
    server = await AccountServer.start();
    [alice, bob] = await createRoomUsers(server, ['alice', 'bob'] as const);
  });
  afterAll(async () => server?.stop());

  it('needs an access token', async () => {
    for (const [method, suffix] of [
      ['GET', ''],
      ['PUT', ''],
      ['DELETE', ''],
      ['GET', '/enabled'],
      ['PUT', '/enabled'],
      ['GET', '/actions'],
      ['PUT', '/actions'],
    ] as const) {
      const response = await server.call(
        method,
        `${V3}${rule('override', 'x', suffix)}`,
        method === 'PUT' ? { body: {} } : {},
      );
      expect(response, `${method} ${suffix}`).toMatchObject({
        status: 401,
        body: { errcode: 'M_MISSING_TOKEN' },
      });
    }
  });

  it('GET one rule: server-default or own; 404 for unknown rules or the wrong kind', async () => {
    expect(await alice.ok('GET', rule('override', '.m.rule.master'))).toEqual({
      rule_id: '.m.rule.master',
      default: true,
      enabled: false,
      conditions: [],
      actions: [],
    });
    expect(await alice.ok('GET', rule('underride', '.m.rule.message', '/enabled'))).toEqual({
      enabled: true,
    });
    expect(await alice.ok('GET', rule('underride', '.m.rule.message', '/actions'))).toEqual({
      actions: ['notify'],
    });
    for (const suffix of ['', '/enabled', '/actions']) {
      await expectError(
        alice,
        'GET',
        rule('override', 'nope', suffix),
        undefined,
        404,
        'M_NOT_FOUND',
      );
      await expectError(
        alice,
        'GET',
        rule('underride', '.m.rule.master', suffix),
        undefined,
        404,
        'M_NOT_FOUND',
      );
      await expectError(
        alice,
        'GET',
        rule('middle', '.m.rule.master', suffix),
        undefined,
        400,
        'M_INVALID_PARAM',
      );
    }
  });

  it('PUT creates a rule, first of its kind, enabled; GET returns it as its kind shows it', async () => {
    expect(
      await alice.ok('PUT', rule('content', 'cake'), { pattern: 'cake*lie', actions: ['notify'] }),
    ).toEqual({});
    expect(await alice.ok('GET', rule('content', 'cake'))).toEqual({
      rule_id: 'cake',
      default: false,
      enabled: true,
      pattern: 'cake*lie',
      actions: ['notify'],
    });
    const beer = {
      conditions: [
        { kind: 'event_match', key: 'content.body', pattern: 'beer' },
        { kind: 'room_member_count', is: '<=10' },
      ],
      actions: ['notify', { set_tweak: 'sound', value: 'beeroclock.wav' }],
    };
    await alice.ok('PUT', rule('override', 'beer'), beer);
    expect(await alice.ok('GET', rule('override', 'beer'))).toEqual({
      rule_id: 'beer',
      default: false,
      enabled: true,
      ...beer,
    });
    // User overrides come after the master rule and before the other server-default ones.
    expect((await ids(alice, 'override')).slice(0, 3)).toEqual([
      '.m.rule.master',
      'beer',
      '.m.rule.suppress_notices',
    ]);
    const roomId = '!dj234r78wl45Gh4D:matrix.org';
    await alice.ok('PUT', rule('room', roomId), { actions: [] });
    await alice.ok('PUT', rule('sender', '@spambot:matrix.org'), { actions: [] });
    expect(await alice.ok('GET', rule('room', roomId))).toEqual({
      rule_id: roomId,
      default: false,
      enabled: true,
      actions: [],
    });
    expect(await ids(alice, 'sender')).toEqual(['@spambot:matrix.org']);
    // Legacy actions are dropped.
    await alice.ok('PUT', rule('underride', 'legacy'), {
      conditions: [],
      actions: ['dont_notify'],
    });
    expect(await alice.ok('GET', rule('underride', 'legacy', '/actions'))).toEqual({ actions: [] });
    // Only the caller has them.
    expect(await ids(bob, 'content')).toEqual([]);
    await expectError(bob, 'GET', rule('content', 'cake'), undefined, 404, 'M_NOT_FOUND');
  });

  it('PUT places rules with before / after, among the user-defined rules of the kind', async () => {
    const put = (ruleId: string, query = '') =>
      alice.ok('PUT', `${rule('content', ruleId)}${query}`, { pattern: ruleId, actions: [] });
    await put('one');
    await put('two');
    await put('three', '?after=one');
    await put('four', `?before=${enc('one')}`);
    await put('five', '?after=three&before=two');
    // The spec's example: placing before a rule that already exists.
    expect(await ids(alice, 'content')).toEqual(['five', 'two', 'four', 'one', 'three', 'cake']);
    // Replacing keeps the place (and the enabled flag); placing moves.
    await alice.ok('PUT', rule('content', 'two', '/enabled'), { enabled: false });
    await alice.ok('PUT', rule('content', 'two'), { pattern: 'deux', actions: ['notify'] });
    expect(await ids(alice, 'content')).toEqual(['five', 'two', 'four', 'one', 'three', 'cake']);
    expect(await alice.ok('GET', rule('content', 'two'))).toMatchObject({
      pattern: 'deux',
      enabled: false,
    });
    await put('two', '?after=cake');
    expect(await ids(alice, 'content')).toEqual(['five', 'four', 'one', 'three', 'cake', 'two']);
  });

  it('PUT refuses bad rule IDs, bodies and placements, changing nothing', async () => {
    const before = await alice.ok('GET', '/pushrules/');
    const put = (kind: string, ruleId: string, body: unknown, query = '') =>
      alice.call('PUT', `${rule(kind, ruleId)}${query}`, body);
    const cases: [string, string, unknown, string, number, string][] = [
      ['override', '.m.rule.master', { actions: [], conditions: [] }, '', 400, 'M_INVALID_PARAM'],
      ['content', '.mine', { actions: [], pattern: 'x' }, '', 400, 'M_INVALID_PARAM'],
      ['content', 'a/b', { actions: [], pattern: 'x' }, '', 400, 'M_INVALID_PARAM'],
      ['content', 'a\\b', { actions: [], pattern: 'x' }, '', 400, 'M_INVALID_PARAM'],
      ['room', 'not-a-room', { actions: [] }, '', 400, 'M_INVALID_PARAM'],
      ['sender', 'not-a-user', { actions: [] }, '', 400, 'M_INVALID_PARAM'],
      ['middle', 'x', { actions: [] }, '', 400, 'M_INVALID_PARAM'],
      ['content', 'x', { pattern: 'x' }, '', 400, 'M_MISSING_PARAM'],
      ['content', 'x', { actions: [] }, '', 400, 'M_MISSING_PARAM'],
      ['content', 'x', { actions: 'notify', pattern: 'x' }, '', 400, 'M_BAD_JSON'],
      ['content', 'x', { actions: ['shout'], pattern: 'x' }, '', 400, 'M_BAD_JSON'],
      ['content', 'x', { actions: [{ value: 1 }], pattern: 'x' }, '', 400, 'M_BAD_JSON'],
      ['content', 'x', { actions: [], pattern: 5 }, '', 400, 'M_BAD_JSON'],
      ['override', 'x', { actions: [], conditions: {} }, '', 400, 'M_BAD_JSON'],
      ['override', 'x', { actions: [], conditions: [{ key: 'type' }] }, '', 400, 'M_BAD_JSON'],
      [
        'override',
        'x',
        { actions: [], conditions: [{ kind: 'event_match', key: 'type' }] },
        '',
        400,
        'M_BAD_JSON',
      ],
      [
        'override',
        'x',
        { actions: [], conditions: [{ kind: 'room_member_count', is: 'many' }] },
        '',
        400,
        'M_BAD_JSON',
      ],
      ['content', 'x', { actions: [], pattern: 'x' }, '?before=unknown', 400, 'M_INVALID_PARAM'],
      ['content', 'x', { actions: [], pattern: 'x' }, '?after=unknown', 400, 'M_INVALID_PARAM'],
      ['content', 'x', { actions: [], pattern: 'x' }, '?after=beer', 400, 'M_INVALID_PARAM'],
      [
        'override',
        'x',
        { actions: [], conditions: [] },
        '?before=.m.rule.suppress_notices',
        400,
        'M_INVALID_PARAM',
      ],
      ['content', 'x', { actions: [], pattern: 'x' }, '?before=x', 400, 'M_INVALID_PARAM'],
    ];
    for (const [kind, ruleId, body, query, status, errcode] of cases) {
      const response = await put(kind, ruleId, body, query);
      expect(response, `${kind}/${ruleId}${query} ${JSON.stringify(body)}`).toMatchObject({
        status,
        body: { errcode },
      });
    }
    const notJson = await server.call('PUT', `${V3}${rule('content', 'x')}`, {
      token: alice.token,
      rawBody: '{not json',
    });
    expect(notJson).toMatchObject({ status: 400, body: { errcode: 'M_NOT_JSON' } });
    expect(await alice.ok('GET', '/pushrules/')).toEqual(before);
  });

  it('DELETE removes an own rule; server-default rules cannot be deleted', async () => {
    await alice.ok('PUT', rule('override', 'doomed'), { conditions: [], actions: [] });
    expect(await alice.ok('DELETE', rule('override', 'doomed'))).toEqual({});
    await expectError(alice, 'GET', rule('override', 'doomed'), undefined, 404, 'M_NOT_FOUND');
    await expectError(alice, 'DELETE', rule('override', 'doomed'), undefined, 404, 'M_NOT_FOUND');
    await expectError(alice, 'DELETE', rule('room', 'doomed'), undefined, 404, 'M_NOT_FOUND');
    await expectError(
      alice,
      'DELETE',
      rule('override', '.m.rule.master'),
      undefined,
      400,
      'M_INVALID_PARAM',
    );
    await expectError(
      alice,
      'DELETE',
      rule('override', '.m.rule.nope'),
      undefined,
      404,
      'M_NOT_FOUND',
    );
    expect(await alice.ok('GET', rule('override', '.m.rule.master'))).toMatchObject({
      rule_id: '.m.rule.master',
    });
  });

  it('PUT enabled and actions change own and server-default rules', async () => {
    expect(
      await alice.ok('PUT', rule('override', '.m.rule.master', '/enabled'), { enabled: true }),
    ).toEqual({});
    expect(await alice.ok('GET', rule('override', '.m.rule.master', '/enabled'))).toEqual({
      enabled: true,
    });
    await alice.ok('PUT', rule('override', '.m.rule.master', '/enabled'), { enabled: false });
    const actions = ['notify', { set_tweak: 'highlight' }, { set_tweak: 'sound', value: 'bing' }];
    expect(
      await alice.ok('PUT', rule('underride', '.m.rule.message', '/actions'), { actions }),
    ).toEqual({});
    expect(await alice.ok('GET', rule('underride', '.m.rule.message'))).toMatchObject({
      default: true,
      enabled: true,
      actions,
    });
    await alice.ok('PUT', rule('content', 'cake', '/enabled'), { enabled: false });
    await alice.ok('PUT', rule('content', 'cake', '/actions'), { actions: ['notify'] });
    expect(await alice.ok('GET', rule('content', 'cake'))).toMatchObject({
      enabled: false,
      actions: ['notify'],
      pattern: 'cake*lie',
    });
    // Bob's server-default rules are his own.
    expect(await bob.ok('GET', rule('underride', '.m.rule.message', '/actions'))).toEqual({
      actions: ['notify'],
    });
  });

  it('PUT enabled and actions: 404 for unknown rules, 400 for bad bodies', async () => {
    for (const suffix of ['/enabled', '/actions']) {
      const body = suffix === '/enabled' ? { enabled: true } : { actions: [] };
      await expectError(alice, 'PUT', rule('override', 'nope', suffix), body, 404, 'M_NOT_FOUND');
      await expectError(
        alice,
        'PUT',
        rule('override', '.m.rule.nope', suffix),
        body,
        404,
        'M_NOT_FOUND',
      );
      await expectError(
        alice,
        'PUT',
        rule('content', '.m.rule.master', suffix),
        body,
        404,
        'M_NOT_FOUND',
      );
    }
    const enabled = rule('override', '.m.rule.master', '/enabled');
    await expectError(alice, 'PUT', enabled, {}, 400, 'M_MISSING_PARAM');
    await expectError(alice, 'PUT', enabled, { enabled: 'yes' }, 400, 'M_BAD_JSON');
    const actions = rule('override', '.m.rule.master', '/actions');
    await expectError(alice, 'PUT', actions, {}, 400, 'M_MISSING_PARAM');
    await expectError(alice, 'PUT', actions, { actions: {} }, 400, 'M_BAD_JSON');
    await expectError(alice, 'PUT', actions, { actions: ['notify', 'shout'] }, 400, 'M_BAD_JSON');
    expect(await alice.ok('GET', rule('override', '.m.rule.master'))).toMatchObject({
      enabled: false,
      actions: [],
    });
  });

  it('m.push_rules is server-managed account data: readable, not writable', async () => {
    const path = `/user/${enc(alice.userId)}/account_data/m.push_rules`;
    expect(await alice.ok('GET', path)).toEqual({
      global: await alice.ok('GET', '/pushrules/global/'),
    });
    await expectError(alice, 'PUT', path, { global: {} }, 405, 'M_BAD_JSON');
  });
});

/** Push rules in `/sync`: `m.push_rules` account data and the unread notification counts. */
describe('push rules in sync', () => {
  let server: AccountServer;
  let alice: RoomUser;
  let bob: RoomUser;
  let carol: RoomUser;
  let roomId: string;

  const sync = async (user: RoomUser, query: Record<string, string> = {}): Promise<Json> => {
    const search = new URLSearchParams(query).toString();
    return user.ok('GET', `/sync${search === '' ? '' : `?${search}`}`);
  };
  const pushRulesOf = (body: Json) =>
    (body.account_data.events as Json[]).filter((event) => event.type === 'm.push_rules');
  const counts = (body: Json) => body.rooms.join[roomId]?.unread_notifications;

  beforeAll(async () => {
    server = await AccountServer.start();
    [alice, bob, carol] = await createRoomUsers(server, ['alice', 'bob', 'carol'] as const);
    roomId = await alice.createRoom({ preset: 'public_chat' });
    await bob.join(roomId);
    await carol.join(roomId);
  });
  afterAll(async () => server?.stop());

  it('an initial sync carries m.push_rules, unless the filter leaves it out', async () => {
    const initial = await sync(bob);
    expect(pushRulesOf(initial)).toEqual([
      { type: 'm.push_rules', content: { global: await bob.ok('GET', '/pushrules/global/') } },
    ]);
    const filtered = await sync(bob, {
      filter: JSON.stringify({ account_data: { not_types: ['m.push_rules'] } }),
    });
    expect(pushRulesOf(filtered)).toEqual([]);
    // An incremental sync carries it only when it changed.
    const again = await sync(bob, { since: initial.next_batch });
    expect(pushRulesOf(again)).toEqual([]);
  });

  it('a change reaches the next sync, and wakes a waiting one', async () => {
    const { next_batch: since } = await sync(bob);
    const polling = sync(bob, { since, timeout: '30000' });
    while (server.context.services.notifier.waiting === 0) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await bob.ok('PUT', `/pushrules/global/sender/${enc(carol.userId)}`, { actions: [] });
    const woken = await polling;
    const [event] = pushRulesOf(woken);
    expect(event.content.global.sender).toEqual([
      { rule_id: carol.userId, default: false, enabled: true, actions: [] },
    ]);
    expect(event.content).toEqual({ global: await bob.ok('GET', '/pushrules/global/') });
    await bob.ok('DELETE', `/pushrules/global/sender/${enc(carol.userId)}`);
    const after = await sync(bob, { since: woken.next_batch });
    expect(pushRulesOf(after)[0].content.global.sender).toEqual([]);
  });

  it('counts notifications and highlights by the rules, until a read receipt', async () => {
    const start = await sync(bob);
    const last = start.rooms.join[roomId].timeline.events.at(-1).event_id;
    await bob.ok('POST', `/rooms/${enc(roomId)}/receipt/m.read/${enc(last)}`, {});
    let since = (await sync(bob)).next_batch;
    const step = async () => {
      const body = await sync(bob, { since });
      since = body.next_batch;
      return body;
    };

    await alice.send(roomId, 'hello');
    expect(counts(await step())).toEqual({ notification_count: 1, highlight_count: 0 });
    // A mention highlights.
    await alice.send(roomId, 'bob?', { 'm.mentions': { user_ids: [bob.userId] } });
    expect(counts(await step())).toEqual({ notification_count: 2, highlight_count: 1 });
    // A notice does not notify (.m.rule.suppress_notices); Bob's own messages never do.
    await alice.send(roomId, 'beep', { msgtype: 'm.notice' });
    await bob.send(roomId, 'me');
    expect(counts(await step())).toEqual({ notification_count: 2, highlight_count: 1 });
    // @room from Alice (power 100) highlights; from Carol (power 0) it is a plain message.
    await alice.send(roomId, 'all', { 'm.mentions': { room: true } });
    await carol.send(roomId, 'all?', { 'm.mentions': { room: true } });
    expect(counts(await step())).toEqual({ notification_count: 4, highlight_count: 2 });

    // A read receipt resets the counts (it moves only the receipt stream).
    const latest = (await alice.ok('GET', `/rooms/${enc(roomId)}/messages?dir=b&limit=1`)).chunk[0]
      .event_id;
    await bob.ok('POST', `/rooms/${enc(roomId)}/receipt/m.read.private/${enc(latest)}`, {});
    expect(counts(await step())).toEqual({ notification_count: 0, highlight_count: 0 });
  });

  it('a disabled rule changes the outcome; so do changed actions', async () => {
    let since = (await sync(bob)).next_batch;
    const step = async () => {
      const body = await sync(bob, { since });
      since = body.next_batch;
      return body;
    };
    const read = async () => {
      const latest = (await alice.ok('GET', `/rooms/${enc(roomId)}/messages?dir=b&limit=1`))
        .chunk[0].event_id;
      await bob.ok('POST', `/rooms/${enc(roomId)}/receipt/m.read/${enc(latest)}`, {});
      await step();
    };
    await bob.ok('PUT', '/pushrules/global/underride/.m.rule.message/enabled', { enabled: false });
    await step();
    await alice.send(roomId, 'quiet now');
    expect(counts(await step())).toEqual({ notification_count: 0, highlight_count: 0 });
    // Mentions still notify: their rule is another one.
    await alice.send(roomId, 'bob!', { 'm.mentions': { user_ids: [bob.userId] } });
    expect(counts(await step())).toEqual({ notification_count: 1, highlight_count: 1 });
    await read();

    // Disabling the mention rule as well: a mention is nothing now.
    await bob.ok('PUT', '/pushrules/global/override/.m.rule.is_user_mention/enabled', {
      enabled: false,
    });
    await alice.send(roomId, 'bob!!', { 'm.mentions': { user_ids: [bob.userId] } });
    expect(counts(await step())).toEqual({ notification_count: 0, highlight_count: 0 });
    await bob.ok('PUT', '/pushrules/global/override/.m.rule.is_user_mention/enabled', {
      enabled: true,
    });
    await bob.ok('PUT', '/pushrules/global/underride/.m.rule.message/enabled', { enabled: true });
    await read();

    // An own content rule that highlights a keyword.
    await bob.ok('PUT', '/pushrules/global/content/lunch', {
      pattern: 'lunch',
      actions: ['notify', { set_tweak: 'highlight' }],
    });
    await alice.send(roomId, 'Lunch at noon?');
    await alice.send(roomId, 'lunches are good');
    expect(counts(await step())).toEqual({ notification_count: 2, highlight_count: 1 });
  });
});

/** matrix-js-sdk takes its push rules from `m.push_rules` in sync and changes them over HTTP. */
describe('push rules with matrix-js-sdk 37.5', () => {
  let server: AccountServer;
  beforeAll(async () => {
    server = await AccountServer.start();
  });
  afterAll(async () => server?.stop());

  it('reads the rules from the initial sync and follows a change', async () => {
    const user = await server.createUser('dana', 'dana-password');
    const client = createClient({
      baseUrl: 'http://alpha.test',
      fetchFn: async (input, init) => {
        const url = new URL(input instanceof Request ? input.url : String(input));
        return fetch(new URL(url.pathname + url.search, server.url), init);
      },
      userId: user.userId,
      deviceId: user.deviceId,
      accessToken: user.accessToken,
    });
    try {
      const prepared = new Promise<void>((resolve) => {
        client.on(ClientEvent.Sync, (state: SyncState) => {
          if (state === SyncState.Prepared) resolve();
        });
      });
      await client.startClient();
      await prepared;
      const master = () =>
        client.pushRules?.global.override?.find((rule) => rule.rule_id === '.m.rule.master');
      expect(master()).toMatchObject({ default: true, enabled: false });
      await client.setPushRuleEnabled('global', PushRuleKind.Override, '.m.rule.master', true);
      for (let i = 0; i < 500 && master()?.enabled !== true; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(master()).toMatchObject({ default: true, enabled: true });
    } finally {
      client.stopClient();
    }
  });
});
