import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProfileChange } from '../../src/services/profiles/profiles.js';
import { AccountServer } from '../helpers/account-server.js';

const V3 = '/_matrix/client/v3';
const ALICE = '@alice:alpha.test';
const BOB = '@bob:alpha.test';
const enc = encodeURIComponent;

describe('profiles, account data and filters', () => {
  let server: AccountServer;
  let alice: string;
  let bob: string;
  beforeAll(async () => {
    server = await AccountServer.start();
    alice = (await server.createUser('alice', 'alice-pw')).accessToken;
    bob = (await server.createUser('bob', 'bob-pw')).accessToken;
  });
  afterAll(async () => server?.stop());

  describe('profiles', () => {
    const profile = (userId: string) => `${V3}/profile/${enc(userId)}`;

    it('starts with the localpart as displayname and is readable without a token', async () => {
      expect(await server.call('GET', profile(ALICE))).toEqual({
        status: 200,
        body: { displayname: 'alice' },
      });
    });

    it('sets displayname and avatar_url, and tells subscribers (the hook rooms will use)', async () => {
      const changes: ProfileChange[] = [];
      const unsubscribe = server.context.services.profiles.changed.add((change) => {
        changes.push(change);
      });
      try {
        const name = await server.call('PUT', `${profile(ALICE)}/displayname`, {
          token: alice,
          body: { displayname: 'Alice A.' },
        });
        expect(name).toEqual({ status: 200, body: {} });
        const avatar = await server.call(
          'PUT',
          `/_matrix/client/r0/profile/${enc(ALICE)}/avatar_url`,
          {
            token: alice,
            body: { avatar_url: 'mxc://alpha.test/AbC123' },
          },
        );
        expect(avatar.status).toBe(200);
      } finally {
        unsubscribe();
      }
      expect(await server.call('GET', `${profile(ALICE)}/displayname`)).toEqual({
        status: 200,
        body: { displayname: 'Alice A.' },
      });
      expect((await server.call('GET', profile(ALICE))).body).toEqual({
        displayname: 'Alice A.',
        avatar_url: 'mxc://alpha.test/AbC123',
      });
      expect(changes).toEqual([
        { userId: ALICE, field: 'displayname', value: 'Alice A.', previous: 'alice' },
        { userId: ALICE, field: 'avatar_url', value: 'mxc://alpha.test/AbC123', previous: null },
      ]);
    });

    it('deletes a field', async () => {
      await server.call('PUT', `${profile(BOB)}/avatar_url`, {
        token: bob,
        body: { avatar_url: 'mxc://alpha.test/bob' },
      });
      expect(
        (await server.call('DELETE', `${profile(BOB)}/avatar_url`, { token: bob })).status,
      ).toBe(200);
      expect(await server.call('GET', `${profile(BOB)}/avatar_url`)).toMatchObject({
        status: 404,
        body: { errcode: 'M_NOT_FOUND' },
      });
    });

    it.each([
      ["another user's profile", BOB, 'displayname', { displayname: 'x' }, 403, 'M_FORBIDDEN'],
      [
        'a field this server does not store',
        ALICE,
        'm.tz',
        { 'm.tz': 'Europe/Paris' },
        403,
        'M_FORBIDDEN',
      ],
      ['an invalid field name', ALICE, 'Not-A-Key', { x: 1 }, 400, 'M_INVALID_PARAM'],
      [
        'an avatar that is not mxc',
        ALICE,
        'avatar_url',
        { avatar_url: 'https://x/y' },
        400,
        'M_INVALID_PARAM',
      ],
      ['a missing value', ALICE, 'displayname', {}, 400, 'M_MISSING_PARAM'],
      ['a value of the wrong type', ALICE, 'displayname', { displayname: 5 }, 400, 'M_BAD_JSON'],
      ['a malformed user ID', 'alice', 'displayname', { displayname: 'x' }, 400, 'M_INVALID_PARAM'],
    ] as const)('refuses to set %s', async (_label, userId, field, body, status, errcode) => {
      const response = await server.call('PUT', `${profile(userId)}/${field}`, {
        token: alice,
        body,
      });
      expect(response.status).toBe(status);
      expect(response.body.errcode).toBe(errcode);
    });

    it('answers unknown users and unset fields with 404, and needs a token to write', async () => {
      expect(await server.call('GET', profile('@nobody:alpha.test'))).toMatchObject({
        status: 404,
        body: { errcode: 'M_NOT_FOUND' },
      });
      expect((await server.call('GET', `${profile(ALICE)}/m.tz`)).status).toBe(404);
      expect((await server.call('GET', profile('not-a-user-id'))).body.errcode).toBe(
        'M_INVALID_PARAM',
      );
      expect(
        await server.call('PUT', `${profile(ALICE)}/displayname`, { body: { displayname: 'x' } }),
      ).toMatchObject({ status: 401, body: { errcode: 'M_MISSING_TOKEN' } });
    });
  });

  describe('account data', () => {
    const global = (userId: string, type: string) =>
      `${V3}/user/${enc(userId)}/account_data/${enc(type)}`;
    const room = (userId: string, roomId: string, type: string) =>
      `${V3}/user/${enc(userId)}/rooms/${enc(roomId)}/account_data/${enc(type)}`;

    it('stores global and per-room data separately', async () => {
      const content = { 'org.example': { nested: [1, 2, 3] } };
      expect(
        await server.call('PUT', global(ALICE, 'org.example.settings'), {
          token: alice,
          body: content,
        }),
      ).toEqual({
        status: 200,
        body: {},
      });
      expect(
        await server.call('GET', global(ALICE, 'org.example.settings'), { token: alice }),
      ).toEqual({
        status: 200,
        body: content,
      });
      const roomId = '!room:alpha.test';
      await server.call('PUT', room(ALICE, roomId, 'org.example.settings'), {
        token: alice,
        body: { room: true },
      });
      expect(
        (await server.call('GET', room(ALICE, roomId, 'org.example.settings'), { token: alice }))
          .body,
      ).toEqual({
        room: true,
      });
      expect(
        (await server.call('GET', global(ALICE, 'org.example.settings'), { token: alice })).body,
      ).toEqual(content);
      // Overwriting replaces the content.
      await server.call('PUT', global(ALICE, 'org.example.settings'), {
        token: alice,
        body: { v: 2 },
      });
      expect(
        (await server.call('GET', global(ALICE, 'org.example.settings'), { token: alice })).body,
      ).toEqual({
        v: 2,
      });
    });

    it("refuses another user's account data with 403, both ways", async () => {
      expect(
        await server.call('GET', global(ALICE, 'org.example.settings'), { token: bob }),
      ).toMatchObject({
        status: 403,
        body: { errcode: 'M_FORBIDDEN' },
      });
      expect(
        await server.call('PUT', global(ALICE, 'org.example.x'), { token: bob, body: {} }),
      ).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
      expect(
        await server.call('PUT', room(ALICE, '!r:alpha.test', 'org.example.x'), {
          token: bob,
          body: {},
        }),
      ).toMatchObject({ status: 403 });
    });

    it.each(['m.fully_read', 'm.push_rules'])(
      'refuses to set %s with 405 M_BAD_JSON',
      async (type) => {
        for (const path of [global(ALICE, type), room(ALICE, '!r:alpha.test', type)]) {
          expect(await server.call('PUT', path, { token: alice, body: {} })).toMatchObject({
            status: 405,
            body: { errcode: 'M_BAD_JSON' },
          });
        }
      },
    );

    it('answers missing data with 404, and bad input with 400', async () => {
      expect(
        await server.call('GET', global(ALICE, 'org.example.none'), { token: alice }),
      ).toMatchObject({
        status: 404,
        body: { errcode: 'M_NOT_FOUND' },
      });
      expect(
        await server.call('PUT', global(ALICE, 'org.example.x'), { token: alice, rawBody: '[1]' }),
      ).toMatchObject({ status: 400, body: { errcode: 'M_BAD_JSON' } });
      expect(
        await server.call('PUT', global(ALICE, 'org.example.x'), { token: alice, rawBody: 'nope' }),
      ).toMatchObject({ status: 400, body: { errcode: 'M_NOT_JSON' } });
      expect(
        await server.call('GET', room(ALICE, '@not-a-room:alpha.test', 'x'), { token: alice }),
      ).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
      expect((await server.call('GET', global(ALICE, 'x'))).status).toBe(401);
    });
  });

  describe('filters', () => {
    const filters = (userId: string) => `${V3}/user/${enc(userId)}/filter`;
    const filter = {
      room: {
        state: {
          types: ['m.room.*'],
          not_rooms: ['!726s6s6q:example.com'],
          lazy_load_members: true,
        },
        timeline: { limit: 10, types: ['m.room.message'], not_senders: ['@spam:example.com'] },
      },
      presence: { types: ['m.presence'], not_senders: ['@alice:example.com'] },
      event_format: 'client',
      event_fields: ['type', 'content', 'sender'],
      'org.example.experimental': true,
    };

    it('stores a filter, returns it, and gives an identical one the same ID', async () => {
      const created = await server.call('POST', filters(ALICE), { token: alice, body: filter });
      expect(created.status).toBe(200);
      const id = created.body.filter_id;
      expect(id).toMatch(/^[^{]/);
      expect(await server.call('GET', `${filters(ALICE)}/${id}`, { token: alice })).toEqual({
        status: 200,
        body: filter,
      });
      const again = await server.call('POST', filters(ALICE), { token: alice, body: filter });
      expect(again.body.filter_id).toBe(id);
    });

    it.each([
      [{ room: { timeline: { limit: 'ten' } } }],
      [{ event_format: 'xml' }],
      [{ room: { rooms: ['not-a-room'] } }],
      [{ presence: { senders: 'bob' } }],
      [{ event_fields: [1] }],
    ])('refuses the malformed filter %j with M_BAD_JSON', async (body) => {
      const response = await server.call('POST', filters(ALICE), { token: alice, body });
      expect(response).toMatchObject({ status: 400, body: { errcode: 'M_BAD_JSON' } });
    });

    it("answers unknown filters with 404 and other users' filters with 403", async () => {
      expect(
        await server.call('GET', `${filters(ALICE)}/nosuchfilter`, { token: alice }),
      ).toMatchObject({
        status: 404,
        body: { errcode: 'M_NOT_FOUND' },
      });
      const created = await server.call('POST', filters(ALICE), { token: alice, body: {} });
      expect(
        await server.call('GET', `${filters(ALICE)}/${created.body.filter_id}`, { token: bob }),
      ).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
      expect(await server.call('POST', filters(ALICE), { token: bob, body: {} })).toMatchObject({
        status: 403,
      });
    });
  });
});
