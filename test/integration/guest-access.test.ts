import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenantEndpoints } from '../../src/api/endpoints.js';
import { AccountServer, type Json } from '../helpers/account-server.js';
import { RoomUser, V3, createRoomUsers, enc } from '../helpers/room-users.js';

const REGISTER = `${V3}/register`;

/** The spec's "Guest Access" list ("Client behaviour"), as `METHOD path` with `:params`. */
const SPEC_GUEST_ENDPOINTS = [
  'GET /rooms/:roomId/state',
  'GET /rooms/:roomId/context/:eventId',
  'GET /rooms/:roomId/event/:eventId',
  'GET /rooms/:roomId/state/:eventType/:stateKey',
  // The same without a state key (empty), with or without the trailing slash.
  'GET /rooms/:roomId/state/:eventType/',
  'GET /rooms/:roomId/state/:eventType',
  'GET /rooms/:roomId/messages',
  'GET /rooms/:roomId/members',
  'GET /rooms/:roomId/initialSync',
  'GET /sync',
  'GET /events',
  'POST /rooms/:roomId/join',
  'POST /rooms/:roomId/leave',
  'PUT /rooms/:roomId/send/:eventType/:txnId',
  'PUT /rooms/:roomId/state/:eventType/:stateKey',
  'PUT /rooms/:roomId/state/:eventType/',
  'PUT /rooms/:roomId/state/:eventType',
  'PUT /sendToDevice/:eventType/:txnId',
  'PUT /profile/:userId/:keyName',
  'DELETE /profile/:userId/:keyName',
  'GET /devices',
  'GET /devices/:deviceId',
  'PUT /devices/:deviceId',
  'GET /account/whoami',
  'POST /keys/upload',
  'POST /keys/query',
  'POST /keys/claim',
  'GET /media/download/:serverName/:mediaId',
  'GET /media/download/:serverName/:mediaId/:fileName',
  'GET /media/thumbnail/:serverName/:mediaId',
];

/** Open to guests beyond the spec's list, as Synapse does (see docs/accounts.md). */
const EXTRA_GUEST_ENDPOINTS = [
  'POST /register',
  'GET /capabilities',
  'POST /user/:userId/filter',
  'GET /user/:userId/filter/:filterId',
  'POST /logout',
  'POST /logout/all',
  'GET /voip/turnServer',
];

/**
 * `METHOD /path` of every form of each client-server endpoint, without its version prefix
 * (`/_matrix/client/v3` or, for endpoints the spec puts there, `/v1`); older aliases skipped.
 */
function endpointKeys(filter: (endpoint: (typeof tenantEndpoints)[number]) => boolean): string[] {
  const current = /^\/_matrix\/client\/v[13](\/.*)$/;
  return tenantEndpoints.filter(filter).flatMap((endpoint) =>
    endpoint.paths.flatMap((path) => {
      const match = current.exec(path);
      return match === null ? [] : [`${endpoint.method} ${match[1]}`];
    }),
  );
}

describe('guest access', () => {
  let server: AccountServer;
  let alice: RoomUser;

  beforeAll(async () => {
    server = await AccountServer.start({ allow_guest_access: true, registration_mode: 'open' });
    [alice] = await createRoomUsers(server, ['alice']);
  });
  afterAll(async () => server?.stop());

  async function registerGuest(): Promise<RoomUser> {
    const response = await server.call('POST', `${REGISTER}?kind=guest`, { body: {} });
    expect(response.status).toBe(200);
    const { user_id, access_token, device_id } = response.body;
    return new RoomUser(server, user_id, access_token, device_id);
  }

  const localpartOf = (userId: string) => userId.slice(1, userId.indexOf(':'));

  describe('the endpoints open to guests', () => {
    it('are declared on the endpoints: the spec list (where served) plus the documented extras', () => {
      const flagged = endpointKeys((endpoint) => endpoint.allowGuests === true);
      const allowed = new Set([...SPEC_GUEST_ENDPOINTS, ...EXTRA_GUEST_ENDPOINTS]);
      expect(flagged.filter((key) => !allowed.has(key))).toEqual([]);
      const served = new Set(endpointKeys(() => true));
      const missing = SPEC_GUEST_ENDPOINTS.filter(
        (key) => served.has(key) && !flagged.includes(key),
      );
      expect(missing).toEqual([]);
    });

    it('let a guest read and take part in a room that allows guests', async () => {
      const guest = await registerGuest();
      // Anyone may send state here, so that the guest's state event passes the room's rules.
      const roomId = await alice.createRoom({
        preset: 'public_chat',
        power_level_content_override: { state_default: 0 },
      });
      await alice.setState(roomId, 'm.room.guest_access', { guest_access: 'can_join' });
      const hello = await alice.send(roomId, 'hello');

      await guest.ok('POST', `/rooms/${enc(roomId)}/join`, {});
      await guest.send(roomId, 'hi from a guest');
      await guest.setState(roomId, 'org.example.guest', { ok: true }, guest.userId);
      expect((await guest.ok('GET', `/rooms/${enc(roomId)}/event/${enc(hello)}`)).content).toEqual({
        msgtype: 'm.text',
        body: 'hello',
      });
      expect(await guest.ok('GET', `/rooms/${enc(roomId)}/context/${enc(hello)}`)).toMatchObject({
        event: { event_id: hello },
      });
      expect(await guest.ok('GET', `/rooms/${enc(roomId)}/state`)).toEqual(expect.any(Array));
      expect(await guest.ok('GET', `/rooms/${enc(roomId)}/state/m.room.guest_access/`)).toEqual({
        guest_access: 'can_join',
      });
      expect((await guest.ok('GET', `/rooms/${enc(roomId)}/members`)).chunk).toHaveLength(2);
      const messages = await guest.ok('GET', `/rooms/${enc(roomId)}/messages?dir=b&limit=5`);
      expect(messages.chunk.map((event: Json) => event.content.body)).toContain('hello');
      const sync = await guest.ok('GET', '/sync?timeout=0');
      expect(Object.keys(sync.rooms.join)).toEqual([roomId]);
      await guest.ok('POST', `/rooms/${enc(roomId)}/leave`, {});
    });

    it('let a guest look after its own account: whoami, devices, displayname, to-device', async () => {
      const guest = await registerGuest();
      expect(await guest.ok('GET', '/account/whoami')).toEqual({
        user_id: guest.userId,
        device_id: guest.deviceId,
        is_guest: true,
      });
      expect((await guest.ok('GET', '/devices')).devices).toHaveLength(1);
      await guest.ok('PUT', `/devices/${enc(guest.deviceId)}`, { display_name: 'Guest phone' });
      expect(await guest.ok('GET', `/devices/${enc(guest.deviceId)}`)).toMatchObject({
        display_name: 'Guest phone',
      });
      await guest.ok('PUT', `/profile/${enc(guest.userId)}/displayname`, {
        displayname: 'Visitor',
      });
      expect(
        await guest.call('PUT', `/profile/${enc(guest.userId)}/avatar_url`, {
          avatar_url: 'mxc://alpha.test/x',
        }),
      ).toMatchObject({ status: 403 });
      await guest.ok('PUT', `/sendToDevice/org.example.ping/${guest.nextTxn()}`, {
        messages: { [alice.userId]: { '*': { hello: true } } },
      });
    });

    it('refuse a guest everywhere else with 403 M_GUEST_ACCESS_FORBIDDEN', async () => {
      const guest = await registerGuest();
      const roomId = await alice.createRoom({ preset: 'public_chat' });
      const refused: Array<[string, string, unknown?]> = [
        ['POST', '/createRoom', {}],
        ['POST', `/join/${enc(roomId)}`, {}],
        ['POST', `/rooms/${enc(roomId)}/invite`, { user_id: alice.userId }],
        ['GET', '/joined_rooms'],
        ['GET', '/room_keys/version'],
        [
          'POST',
          '/room_keys/version',
          { algorithm: 'm.megolm_backup.v1.curve25519-aes-sha2', auth_data: {} },
        ],
        ['GET', '/room_keys/keys?version=1'],
        ['PUT', `/user/${enc(guest.userId)}/account_data/org.example`, {}],
        ['GET', '/pushrules/'],
        ['POST', '/account/password', { new_password: 'x' }],
        ['POST', '/account/deactivate', {}],
        ['GET', '/account/3pid'],
        ['PUT', `/rooms/${enc(roomId)}/typing/${enc(guest.userId)}`, { typing: false }],
        ['POST', '/publicRooms', {}],
      ];
      for (const [method, path, body] of refused) {
        expect(await guest.call(method, path, body), `${method} ${path}`).toMatchObject({
          status: 403,
          body: { errcode: 'M_GUEST_ACCESS_FORBIDDEN' },
        });
      }
    });

    it('let guests join only rooms whose m.room.guest_access is can_join', async () => {
      const guest = await registerGuest();
      const closed = await alice.createRoom({ preset: 'public_chat' });
      expect(await guest.call('POST', `/rooms/${enc(closed)}/join`, {})).toMatchObject({
        status: 403,
        body: { errcode: 'M_FORBIDDEN' },
      });
      await alice.setState(closed, 'm.room.guest_access', { guest_access: 'forbidden' });
      expect((await guest.call('POST', `/rooms/${enc(closed)}/join`, {})).status).toBe(403);
      await alice.setState(closed, 'm.room.guest_access', { guest_access: 'can_join' });
      await guest.ok('POST', `/rooms/${enc(closed)}/join`, {});
    });

    it('make guests leave when m.room.guest_access stops being can_join, and nobody else', async () => {
      const [guest, other] = [await registerGuest(), await registerGuest()];
      const [bob] = await createRoomUsers(server, ['bob-guest-room']);
      const roomId = await alice.createRoom({ preset: 'public_chat' });
      await alice.setState(roomId, 'm.room.guest_access', { guest_access: 'can_join' });
      await guest.ok('POST', `/rooms/${enc(roomId)}/join`, {});
      await other.ok('POST', `/rooms/${enc(roomId)}/join`, {});
      await bob!.ok('POST', `/rooms/${enc(roomId)}/join`, {});
      const joined = async () =>
        Object.keys((await alice.ok('GET', `/rooms/${enc(roomId)}/joined_members`)).joined).sort();

      // Another state change that keeps can_join changes nothing.
      await alice.setState(roomId, 'm.room.guest_access', { guest_access: 'can_join', x: 1 });
      expect(await joined()).toEqual(
        [alice.userId, bob!.userId, guest.userId, other.userId].sort(),
      );

      await alice.setState(roomId, 'm.room.guest_access', { guest_access: 'forbidden' });
      expect(await joined()).toEqual([alice.userId, bob!.userId].sort());
      const member = await alice.ok(
        'GET',
        `/rooms/${enc(roomId)}/state/m.room.member/${enc(guest.userId)}`,
      );
      expect(member.membership).toBe('leave');
      // The guest left by itself (its own leave event), as Synapse does.
      const messages = await alice.ok('GET', `/rooms/${enc(roomId)}/messages?dir=b&limit=3`);
      const leaves = messages.chunk.filter(
        (event: Json) => event.type === 'm.room.member' && event.content.membership === 'leave',
      );
      expect(leaves.map((event: Json) => event.sender).sort()).toEqual(
        [guest.userId, other.userId].sort(),
      );
    });
  });

  describe('upgrading a guest', () => {
    async function guestInRoom(): Promise<{ guest: RoomUser; roomId: string }> {
      const guest = await registerGuest();
      const roomId = await alice.createRoom({ preset: 'private_chat', invite: [guest.userId] });
      await guest.ok('POST', `/rooms/${enc(roomId)}/join`, {});
      return { guest, roomId };
    }

    function register(body: Record<string, unknown>, token?: string) {
      return server.call('POST', REGISTER, { body, ...(token === undefined ? {} : { token }) });
    }

    it('with its token and its own localpart keeps the user ID and the rooms, and sets a password', async () => {
      const { guest, roomId } = await guestInRoom();
      const localpart = localpartOf(guest.userId);
      const challenge = await register(
        { username: localpart, password: 'upgraded-pw' },
        guest.token,
      );
      expect(challenge.status).toBe(401);
      const upgraded = await register(
        {
          username: localpart,
          password: 'upgraded-pw',
          initial_device_display_name: 'Now a member',
          auth: { type: 'm.login.dummy', session: challenge.body.session },
        },
        guest.token,
      );
      expect(upgraded).toEqual({
        status: 200,
        body: {
          user_id: guest.userId,
          home_server: 'alpha.test',
          access_token: expect.any(String),
          device_id: expect.any(String),
        },
      });
      const member = new RoomUser(
        server,
        guest.userId,
        upgraded.body.access_token,
        upgraded.body.device_id,
      );
      expect(await member.ok('GET', '/account/whoami')).toMatchObject({ is_guest: false });
      // The guest's own session lives on, no longer a guest's.
      expect(await guest.ok('GET', '/account/whoami')).toMatchObject({
        user_id: guest.userId,
        is_guest: false,
      });
      expect((await member.ok('GET', '/joined_rooms')).joined_rooms).toEqual([roomId]);
      expect((await member.ok('GET', '/devices')).devices).toHaveLength(2);
      await member.createRoom({});
      expect((await member.call('GET', '/room_keys/version')).status).toBe(404);
      // The password works for login.
      expect((await server.login(localpart, 'upgraded-pw')).user_id).toBe(guest.userId);
    });

    it('with no username, or the guest_access_token body field, upgrades the guest too', async () => {
      const first = await registerGuest();
      const noName = await register(
        { password: 'pw-one', auth: { type: 'm.login.dummy' } },
        first.token,
      );
      expect(noName.body.user_id).toBe(first.userId);
      expect(await first.ok('GET', '/account/whoami')).toMatchObject({ is_guest: false });

      const second = await registerGuest();
      const byField = await register({
        username: localpartOf(second.userId),
        password: 'pw-two',
        guest_access_token: second.token,
        auth: { type: 'm.login.dummy' },
      });
      expect(byField.body.user_id).toBe(second.userId);
      expect(await second.ok('GET', '/account/whoami')).toMatchObject({ is_guest: false });
    });

    it('with another username creates a new account and leaves the guest a guest', async () => {
      const guest = await registerGuest();
      const response = await register(
        { username: 'fresh-member', password: 'pw', auth: { type: 'm.login.dummy' } },
        guest.token,
      );
      expect(response).toMatchObject({
        status: 200,
        body: { user_id: '@fresh-member:alpha.test' },
      });
      expect(await guest.ok('GET', '/account/whoami')).toMatchObject({ is_guest: true });
    });

    it('does not let a full account be taken over by name, nor a bad token pass', async () => {
      const guest = await registerGuest();
      // The guest's token does not make someone else's localpart free.
      expect(
        await register(
          { username: 'alice', password: 'pw', auth: { type: 'm.login.dummy' } },
          guest.token,
        ),
      ).toMatchObject({ status: 400, body: { errcode: 'M_USER_IN_USE' } });
      // A guest's localpart without its token is a taken, numeric name.
      expect(
        await register({
          username: localpartOf(guest.userId),
          password: 'pw',
          auth: { type: 'm.login.dummy' },
        }),
      ).toMatchObject({ status: 400 });
      expect(
        await register({
          password: 'pw',
          guest_access_token: 'nonsense',
          auth: { type: 'm.login.dummy' },
        }),
      ).toMatchObject({ status: 401, body: { errcode: 'M_UNKNOWN_TOKEN' } });
      expect(await guest.ok('GET', '/account/whoami')).toMatchObject({ is_guest: true });
    });
  });
});

describe('guest upgrade and the registration mode', () => {
  it('still needs the registration token in token mode, and is refused when registration is closed', async () => {
    const tokenServer = await AccountServer.start({
      allow_guest_access: true,
      registration_mode: 'token',
    });
    const closedServer = await AccountServer.start({
      allow_guest_access: true,
      registration_mode: 'closed',
    });
    try {
      const admin = await tokenServer.createUser('admin', 'admin-password', { admin: true });
      await tokenServer.call('POST', '/_synapse/admin/v1/registration_tokens/new', {
        token: admin.accessToken,
        body: { token: 'UPGRADE', uses_allowed: 1 },
      });
      const guest = (await tokenServer.call('POST', `${REGISTER}?kind=guest`, { body: {} })).body;
      const dummy = await tokenServer.call('POST', REGISTER, {
        token: guest.access_token,
        body: { password: 'pw', auth: { type: 'm.login.dummy' } },
      });
      expect(dummy.status).toBe(401);
      expect(dummy.body.flows).toEqual([{ stages: ['m.login.registration_token'] }]);
      const upgraded = await tokenServer.call('POST', REGISTER, {
        token: guest.access_token,
        body: { password: 'pw', auth: { type: 'm.login.registration_token', token: 'UPGRADE' } },
      });
      expect(upgraded).toMatchObject({ status: 200, body: { user_id: guest.user_id } });

      const closedGuest = (await closedServer.call('POST', `${REGISTER}?kind=guest`, { body: {} }))
        .body;
      expect(
        await closedServer.call('POST', REGISTER, {
          token: closedGuest.access_token,
          body: { password: 'pw', auth: { type: 'm.login.dummy' } },
        }),
      ).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
      const whoami = await closedServer.call('GET', `${V3}/account/whoami`, {
        token: closedGuest.access_token,
      });
      expect(whoami.body.is_guest).toBe(true);
    } finally {
      await tokenServer.stop();
      await closedServer.stop();
    }
  });
});
