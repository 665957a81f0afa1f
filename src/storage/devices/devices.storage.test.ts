import { afterEach, describe, expect, it } from 'vitest';
import { openTestDatabaseConfig } from '../../../test/helpers/test-database.js';
import { StoredRooms } from '../../../test/helpers/stored-rooms.js';
import { deleteDevices, insertDevice, updateDeviceDisplayName } from '../accounts/devices.js';
import { insertUser } from '../accounts/users.js';
import { selectSequenceValues } from '../ephemeral/stream-positions.js';
import { openTenantDatabase, type TenantDatabase } from '../tenant-database.js';
import {
  insertDeviceListChange,
  selectChangedUsersAmong,
  selectChangedUsersSharingRoomWith,
} from './device-list-changes.js';
import {
  selectMembershipChangesBetween,
  selectMembershipsInRoom,
  selectUsersSharingRoomAmong,
} from './shared-rooms.js';
import {
  deleteInboxMessagesUpTo,
  deleteInboxOfDevices,
  hasInboxMessagesUpTo,
  insertInboxMessages,
  selectDeviceIdsOfUsers,
  selectInboxMessages,
  type InboxMessage,
} from './to-device-inbox.js';
import {
  deleteToDeviceTxnIdsBefore,
  deleteToDeviceTxnIdsOfDevices,
  insertToDeviceTxnId,
} from './to-device-txn-ids.js';

const ALICE = '@alice:alpha.test';
const BOB = '@bob:alpha.test';
const CAROL = '@carol:alpha.test';
const DAN = '@dan:alpha.test';
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function open(): Promise<TenantDatabase> {
  const { config, cleanup } = await openTestDatabaseConfig();
  const db = await openTenantDatabase(config, { serverName: 'alpha.test' });
  cleanups.push(cleanup, () => db.close());
  return db;
}

async function addDevice(db: TenantDatabase, userId: string, deviceId: string): Promise<void> {
  await db.transact(async (trx) => {
    await insertUser(trx, {
      userId,
      passwordHash: null,
      isAdmin: false,
      isGuest: false,
      createdTs: 1,
    });
    await insertDevice(trx, { userId, deviceId, displayName: null, ip: null, now: 1 });
  });
}

function message(deviceId: string, streamId: number, body = `m${streamId}`): InboxMessage {
  return {
    userId: ALICE,
    deviceId,
    streamId,
    sender: BOB,
    type: 'org.example.ping',
    content: JSON.stringify({ body }),
  };
}

const ALICE_PHONE = { userId: ALICE, deviceId: 'PHONE' };

describe('device streams migration', () => {
  it('starts both streams at 0', async () => {
    const db = await open();
    const values = await db.read((reader) =>
      selectSequenceValues(reader, ['to_device', 'device_lists']),
    );
    expect(values).toEqual({ to_device: 0, device_lists: 0 });
  });
});

describe('to-device inbox', () => {
  it('reads a device’s messages in a window, oldest first, up to a limit', async () => {
    const db = await open();
    await db.transact((trx) =>
      insertInboxMessages(trx, [
        message('PHONE', 3),
        message('PHONE', 1),
        message('LAPTOP', 2),
        message('PHONE', 5),
        message('PHONE', 4),
      ]),
    );
    const read = (after: number, upTo: number, limit = 100) =>
      db.read((reader) => selectInboxMessages(reader, ALICE_PHONE, after, upTo, limit));
    expect((await read(0, 10)).map((m) => m.streamId)).toEqual([1, 3, 4, 5]);
    expect((await read(1, 4)).map((m) => m.streamId)).toEqual([3, 4]);
    expect((await read(0, 10, 2)).map((m) => m.streamId)).toEqual([1, 3]);
    expect(await read(0, 10)).toContainEqual(message('PHONE', 3));
  });

  it('deletes acknowledged messages, and those of deleted devices', async () => {
    const db = await open();
    await db.transact((trx) =>
      insertInboxMessages(trx, [message('PHONE', 1), message('PHONE', 2), message('LAPTOP', 3)]),
    );
    expect(await db.read((reader) => hasInboxMessagesUpTo(reader, ALICE_PHONE, 0))).toBe(false);
    expect(await db.read((reader) => hasInboxMessagesUpTo(reader, ALICE_PHONE, 1))).toBe(true);
    await db.transact((trx) => deleteInboxMessagesUpTo(trx, ALICE_PHONE, 1));
    const left = await db.read((reader) => selectInboxMessages(reader, ALICE_PHONE, 0, 10, 100));
    expect(left.map((m) => m.streamId)).toEqual([2]);

    await db.transact((trx) => deleteInboxOfDevices(trx, ALICE, ['PHONE']));
    expect(await db.read((reader) => selectInboxMessages(reader, ALICE_PHONE, 0, 10, 100))).toEqual(
      [],
    );
    const laptop = { userId: ALICE, deviceId: 'LAPTOP' };
    expect(await db.read((reader) => selectInboxMessages(reader, laptop, 0, 10, 100))).toHaveLength(
      1,
    );
  });

  it('stores a large send in batches', async () => {
    const db = await open();
    const many = Array.from({ length: 1203 }, (_, i) => ({ ...message(`D${i}`, 7) }));
    await db.transact((trx) => insertInboxMessages(trx, many));
    const count = await db.read((reader) =>
      reader
        .selectFrom('to_device_inbox')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow(),
    );
    expect(Number(count.n)).toBe(1203);
  });

  it('lists the devices of users', async () => {
    const db = await open();
    await addDevice(db, ALICE, 'PHONE');
    await addDevice(db, ALICE, 'LAPTOP');
    await addDevice(db, BOB, 'DESK');
    const found = await db.read((reader) => selectDeviceIdsOfUsers(reader, [ALICE, CAROL]));
    expect(found).toEqual(new Map([[ALICE, new Set(['LAPTOP', 'PHONE'])]]));
  });
});

describe('to-device transaction IDs', () => {
  const key = { userId: ALICE, deviceId: 'PHONE', scope: '/sendToDevice/m.x', txnId: 't1' };

  it('records an ID once per device and scope', async () => {
    const db = await open();
    expect(await db.transact((trx) => insertToDeviceTxnId(trx, key, 100))).toBe(true);
    expect(await db.transact((trx) => insertToDeviceTxnId(trx, key, 200))).toBe(false);
    const otherScope = { ...key, scope: '/sendToDevice/m.y' };
    expect(await db.transact((trx) => insertToDeviceTxnId(trx, otherScope, 200))).toBe(true);
    const otherDevice = { ...key, deviceId: 'LAPTOP' };
    expect(await db.transact((trx) => insertToDeviceTxnId(trx, otherDevice, 200))).toBe(true);
  });

  it('forgets old IDs and those of deleted devices', async () => {
    const db = await open();
    await db.transact((trx) => insertToDeviceTxnId(trx, key, 100));
    await db.transact((trx) => insertToDeviceTxnId(trx, { ...key, txnId: 't2' }, 300));
    await db.transact((trx) => deleteToDeviceTxnIdsBefore(trx, ALICE, 'PHONE', 200));
    expect(await db.transact((trx) => insertToDeviceTxnId(trx, key, 400))).toBe(true);
    expect(await db.transact((trx) => insertToDeviceTxnId(trx, { ...key, txnId: 't2' }, 400))).toBe(
      false,
    );
    await db.transact((trx) => deleteToDeviceTxnIdsOfDevices(trx, ALICE, ['PHONE']));
    expect(await db.transact((trx) => insertToDeviceTxnId(trx, { ...key, txnId: 't2' }, 500))).toBe(
      true,
    );
  });
});

describe('device-list changes', () => {
  it('records each change at its own position', async () => {
    const db = await open();
    expect(await db.transact((trx) => insertDeviceListChange(trx, ALICE))).toBe(1);
    expect(await db.transact((trx) => insertDeviceListChange(trx, BOB))).toBe(2);
    expect(await db.transact((trx) => insertDeviceListChange(trx, ALICE))).toBe(3);
    const among = (after: number, upTo: number) =>
      db.read((reader) => selectChangedUsersAmong(reader, [ALICE, BOB, CAROL], after, upTo));
    expect(await among(0, 3)).toEqual(new Set([ALICE, BOB]));
    expect(await among(1, 2)).toEqual(new Set([BOB]));
    expect(await among(2, 3)).toEqual(new Set([ALICE]));
    expect(await among(3, 3)).toEqual(new Set());
  });

  it('a rolled-back change leaves no trace', async () => {
    const db = await open();
    await expect(
      db.transact(async (trx) => {
        await insertDeviceListChange(trx, ALICE);
        throw new Error('rollback');
      }),
    ).rejects.toThrow('rollback');
    const values = await db.read((reader) => selectSequenceValues(reader, ['device_lists']));
    expect(values.device_lists).toBe(0);
  });

  it('creating, renaming and deleting devices are changes; deleting drops their messages', async () => {
    const db = await open();
    await addDevice(db, ALICE, 'PHONE');
    await addDevice(db, ALICE, 'LAPTOP');
    const changes = () =>
      db.read((reader) =>
        reader.selectFrom('device_list_changes').select(['stream_id', 'user_id']).execute(),
      );
    expect((await changes()).map((row) => [Number(row.stream_id), row.user_id])).toEqual([
      [1, ALICE],
      [2, ALICE],
    ]);

    expect(await db.transact((trx) => updateDeviceDisplayName(trx, ALICE, 'PHONE', 'Phone'))).toBe(
      true,
    );
    expect(await db.transact((trx) => updateDeviceDisplayName(trx, ALICE, 'NONE', 'x'))).toBe(
      false,
    );
    expect(await changes()).toHaveLength(3);

    await db.transact(async (trx) => {
      await insertInboxMessages(trx, [message('PHONE', 1), message('LAPTOP', 1)]);
      await insertToDeviceTxnId(
        trx,
        { userId: ALICE, deviceId: 'PHONE', scope: '/sendToDevice/m.x', txnId: 't' },
        1,
      );
    });
    expect(await db.transact((trx) => deleteDevices(trx, ALICE, ['PHONE', 'NONE']))).toEqual([
      'PHONE',
    ]);
    expect(await changes()).toHaveLength(4);
    expect(await db.read((reader) => selectInboxMessages(reader, ALICE_PHONE, 0, 9, 100))).toEqual(
      [],
    );
    const laptop = { userId: ALICE, deviceId: 'LAPTOP' };
    expect(await db.read((reader) => selectInboxMessages(reader, laptop, 0, 9, 100))).toHaveLength(
      1,
    );
    const txnIds = await db.read((reader) =>
      reader.selectFrom('to_device_txn_ids').selectAll().execute(),
    );
    expect(txnIds).toEqual([]);

    // Deleting nothing is no change.
    await db.transact((trx) => deleteDevices(trx, ALICE, ['NONE']));
    expect(await changes()).toHaveLength(4);
  });

  it('finds the changed users who share a joined room with a user', async () => {
    const db = await open();
    const rooms = new StoredRooms(db);
    await rooms.createRoom('!one:alpha.test', [ALICE, BOB]);
    await rooms.createRoom('!two:alpha.test', [CAROL, DAN]);
    await rooms.setMembership('!two:alpha.test', ALICE, 'invite');
    for (const userId of [ALICE, BOB, CAROL, DAN]) {
      await db.transact((trx) => insertDeviceListChange(trx, userId));
    }
    const sharing = (userId: string, after: number, upTo: number) =>
      db.read(async (reader) =>
        (await selectChangedUsersSharingRoomWith(reader, userId, after, upTo)).sort(),
      );
    // Alice is only invited to the second room.
    expect(await sharing(ALICE, 0, 4)).toEqual([ALICE, BOB]);
    expect(await sharing(ALICE, 1, 4)).toEqual([BOB]);
    expect(await sharing(CAROL, 0, 4)).toEqual([CAROL, DAN]);
    expect(await sharing(CAROL, 0, 3)).toEqual([CAROL]);
  });
});

describe('shared rooms', () => {
  it('lists the targets of accepted member events in a window, per room', async () => {
    const db = await open();
    const rooms = new StoredRooms(db);
    await rooms.createRoom('!one:alpha.test', [ALICE]); // positions 1
    await rooms.createRoom('!two:alpha.test', [BOB]); // 2
    await rooms.setMembership('!one:alpha.test', BOB, 'join'); // 3
    await rooms.addEvent('!one:alpha.test', ALICE); // 4: not a member event
    await rooms.addEvent('!one:alpha.test', CAROL, {
      type: 'm.room.member',
      stateKey: CAROL,
      content: { membership: 'join' },
      rejected: true,
    }); // 5
    await rooms.addEvent('!two:alpha.test', DAN, {
      type: 'm.room.member',
      stateKey: DAN,
      content: { membership: 'join' },
      outlier: true,
    }); // 6
    await rooms.setMembership('!two:alpha.test', ALICE, 'join'); // 7
    const between = (after: number, upTo: number) =>
      db.read((reader) =>
        selectMembershipChangesBetween(reader, ['!one:alpha.test', '!two:alpha.test'], after, upTo),
      );
    expect(await between(0, 7)).toEqual(
      new Map([
        ['!one:alpha.test', new Set([ALICE, BOB])],
        ['!two:alpha.test', new Set([BOB, ALICE])],
      ]),
    );
    expect(await between(2, 6)).toEqual(new Map([['!one:alpha.test', new Set([BOB])]]));
    expect(await between(7, 7)).toEqual(new Map());
  });

  it('tells which users share a joined room with a user, and their memberships', async () => {
    const db = await open();
    const rooms = new StoredRooms(db);
    await rooms.createRoom('!one:alpha.test', [ALICE, BOB]);
    await rooms.createRoom('!two:alpha.test', [CAROL]);
    await rooms.setMembership('!two:alpha.test', ALICE, 'leave');
    await rooms.setMembership('!one:alpha.test', DAN, 'invite');
    const among = (userId: string) =>
      db.read((reader) => selectUsersSharingRoomAmong(reader, userId, [ALICE, BOB, CAROL, DAN]));
    expect(await among(ALICE)).toEqual(new Set([ALICE, BOB]));
    expect(await among(DAN)).toEqual(new Set());
    expect(
      await db.read((reader) =>
        selectMembershipsInRoom(reader, '!one:alpha.test', [ALICE, DAN, CAROL]),
      ),
    ).toEqual(
      new Map([
        [ALICE, 'join'],
        [DAN, 'invite'],
      ]),
    );
  });
});
