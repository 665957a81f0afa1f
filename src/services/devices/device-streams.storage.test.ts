import { afterEach, describe, expect, it } from 'vitest';
import {
  openAccountServices,
  type TestAccountServices,
} from '../../../test/helpers/account-services.js';
import { StoredRooms } from '../../../test/helpers/stored-rooms.js';
import { selectInboxMessages } from '../../storage/devices/to-device-inbox.js';
import type { DeviceListChange } from './device-lists.js';
import type { ToDeviceMessages, ToDeviceSent } from './to-device.js';

const ROOM = '!room:alpha.test';
const opened: TestAccountServices[] = [];
afterEach(async () => {
  while (opened.length > 0) await opened.pop()?.close();
});

async function setup() {
  const t = await openAccountServices();
  opened.push(t);
  const session = { refreshable: false, ip: null };
  const account = (localpart: string) =>
    t.services.registration.createAccount({
      localpart,
      password: `${localpart}-password`,
      isAdmin: false,
      isGuest: false,
      session,
    });
  const alice = await account('alice');
  const bob = await account('bob');
  const login = (localpart: string) =>
    t.services.login.login(
      {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user: localpart },
        password: `${localpart}-password`,
      },
      session,
    );
  return {
    ...t,
    alice: { userId: alice.userId, deviceId: alice.session?.deviceId as string },
    bob: { userId: bob.userId, deviceId: bob.session?.deviceId as string },
    login,
  };
}

describe('DeviceLists', () => {
  it('announces changes with the rooms the user is joined to', async () => {
    const { db, services, alice, bob, login } = await setup();
    await new StoredRooms(db).createRoom(ROOM, [alice.userId, bob.userId]);
    const changes: DeviceListChange[] = [];
    services.deviceLists.changed.add((change) => void changes.push(change));

    // Registration created devices 1 and 2; a login is 3, a rename 4, a logout 5.
    const session = await login('bob');
    await services.devices.rename(bob.userId, session.deviceId, 'Laptop');
    await services.devices.logout(bob.userId, session.deviceId);
    // For device keys (later): a change in the caller's own transaction, announced after it.
    const position = await db.transact((trx) =>
      services.deviceLists.recordDeviceListChange(trx, alice.userId),
    );
    await services.deviceLists.announce(alice.userId);
    await services.deviceLists.markChanged(alice.userId);

    expect(position).toBe(6);
    const bobChange = { userId: bob.userId, roomIds: [ROOM] };
    expect(changes).toEqual([
      { ...bobChange, position: 3 },
      { ...bobChange, position: 4 },
      { ...bobChange, position: 5 },
      { userId: alice.userId, roomIds: [ROOM], position: 6 },
      { userId: alice.userId, roomIds: [ROOM], position: 7 },
    ]);
  });

  it('a password change that logs out other devices is a change', async () => {
    const { services, alice, login } = await setup();
    await login('alice');
    const changes: DeviceListChange[] = [];
    services.deviceLists.changed.add((change) => void changes.push(change));
    await services.users.changePassword(alice.userId, 'new-password', {
      authorisation: await services.uia.authorise({
        action: 'POST /account/password',
        flows: [['m.login.dummy']],
        auth: { type: 'm.login.dummy' },
        userId: alice.userId,
      }),
      logoutDevices: true,
      keepDeviceId: alice.deviceId,
    });
    expect(changes).toEqual([{ userId: alice.userId, roomIds: [], position: 4 }]);
    expect((await services.devices.list(alice.userId)).map((d) => d.device_id)).toEqual([
      alice.deviceId,
    ]);
  });
});

describe('ToDevice', () => {
  it('stores one message per target device in one position, once per transaction ID', async () => {
    const { db, services, alice, bob, login } = await setup();
    const laptop = await login('bob');
    const sent: ToDeviceSent[] = [];
    services.toDevice.sent.add((change) => void sent.push(change));
    const messages: ToDeviceMessages = {
      [bob.userId]: { '*': { all: 1 }, [laptop.deviceId]: { own: 1 } },
      [alice.userId]: { UNKNOWN: { x: 1 } },
    };
    await services.toDevice.send(alice, 'm.test', 'txn', messages);
    await services.toDevice.send(alice, 'm.test', 'txn', messages);
    expect(sent).toEqual([{ position: 1, userIds: [bob.userId] }]);

    const inbox = (deviceId: string) =>
      db.read((reader) =>
        selectInboxMessages(reader, { userId: bob.userId, deviceId }, 0, 10, 100),
      );
    expect(await inbox(bob.deviceId)).toEqual([
      {
        userId: bob.userId,
        deviceId: bob.deviceId,
        streamId: 1,
        sender: alice.userId,
        type: 'm.test',
        content: '{"all":1}',
      },
    ]);
    expect((await inbox(laptop.deviceId)).map((m) => m.content)).toEqual(['{"own":1}']);
  });

  it('refuses a malformed user ID before storing anything', async () => {
    const { db, services, alice, bob } = await setup();
    await expect(
      services.toDevice.send(alice, 'm.test', 'txn', {
        [bob.userId]: { '*': {} },
        '@no-server': { '*': {} },
      }),
    ).rejects.toMatchObject({ errcode: 'M_INVALID_PARAM' });
    const rows = await db.read((reader) =>
      reader.selectFrom('to_device_inbox').selectAll().execute(),
    );
    expect(rows).toEqual([]);
    // The ID was not used up: the corrected request goes through.
    await services.toDevice.send(alice, 'm.test', 'txn', { [bob.userId]: { '*': {} } });
    expect(
      await db.read((reader) => reader.selectFrom('to_device_inbox').selectAll().execute()),
    ).toHaveLength(1);
  });
});
