import { afterEach, describe, expect, it } from 'vitest';
import { openRoomServices, type TestRoomServices } from '../../../test/helpers/room-services.js';
import type { JsonObject } from '../../core/canonical-json.js';
import { stateKeyOf } from '../../protocol/room-event.js';
import { upsertReceipt } from '../../storage/ephemeral/receipts.js';
import { selectSequenceValues } from '../../storage/ephemeral/stream-positions.js';
import {
  NotificationCounts,
  type CountPositions,
  type NotificationCountsOptions,
} from './notification-counts.js';

const opened: TestRoomServices[] = [];
afterEach(async () => {
  while (opened.length > 0) await opened.pop()?.close();
});

/** Alice's room (public chat) with Bob and Carol in it, and Bob's notification counts. */
async function setup(options: NotificationCountsOptions = {}) {
  const s = await openRoomServices();
  opened.push(s);
  const alice = await s.createUser('alice');
  const bob = await s.createUser('bob');
  const carol = await s.createUser('carol');
  const roomId = await s.rooms.roomCreation.create(alice, { preset: 'public_chat' });
  await s.rooms.roomMembership.join(bob, roomId);
  await s.rooms.roomMembership.join(carol, roomId);
  const counts = new NotificationCounts(
    { db: s.db, roomGraph: s.rooms.roomGraph, pushRules: s.services.pushRules },
    options,
  );
  let txn = 0;
  const send = (sender: string, content: JsonObject, type = 'm.room.message') =>
    s.rooms.roomMessages.send(
      { userId: sender, deviceId: 'D', isAdmin: false },
      roomId,
      type,
      `t${++txn}`,
      content,
    );
  const text = (sender: string, body: string, extra: JsonObject = {}) =>
    send(sender, { msgtype: 'm.text', body, ...extra });
  const positions = async (): Promise<CountPositions> => {
    const values = await s.db.read((db) =>
      selectSequenceValues(db, ['stream_ordering', 'receipts']),
    );
    return { events: values.stream_ordering, receipts: values.receipts };
  };
  const bobCounts = async () => counts.countsFor(bob, roomId, await positions());
  const readUpTo = (eventId: string) =>
    s.db.transact((trx) =>
      upsertReceipt(trx, {
        roomId,
        receiptType: 'm.read',
        userId: bob,
        threadId: '',
        eventId,
        data: {},
      }),
    );
  return { s, alice, bob, carol, roomId, counts, send, text, bobCounts, readUpTo };
}

describe('NotificationCounts', () => {
  it("counts what the user's rules notify for: messages, mentions highlighted", async () => {
    const { alice, bob, text, bobCounts } = await setup();
    await text(alice, 'hello');
    await text(alice, 'a bot says', { msgtype: 'm.notice' });
    await text(alice, 'hey you', { 'm.mentions': { user_ids: [bob] } });
    await text(bob, 'my own message');
    expect(await bobCounts()).toEqual({ notifications: 2, highlights: 1 });
  });

  it('counts nothing from before the user joined', async () => {
    const s = await openRoomServices();
    opened.push(s);
    const alice = await s.createUser('alice');
    const bob = await s.createUser('bob');
    const roomId = await s.rooms.roomCreation.create(alice, { preset: 'public_chat' });
    for (const i of [1, 2, 3]) {
      await s.rooms.roomMessages.send(
        { userId: alice, deviceId: 'D', isAdmin: false },
        roomId,
        'm.room.message',
        `before-${i}`,
        { msgtype: 'm.text', body: `before ${i}` },
      );
    }
    await s.rooms.roomMembership.join(bob, roomId);
    const counts = new NotificationCounts({
      db: s.db,
      roomGraph: s.rooms.roomGraph,
      pushRules: s.services.pushRules,
    });
    const values = await s.db.read((db) =>
      selectSequenceValues(db, ['stream_ordering', 'receipts']),
    );
    const at = { events: values.stream_ordering, receipts: values.receipts };
    expect(await counts.countsFor(bob, roomId, at)).toEqual({ notifications: 0, highlights: 0 });
  });

  it('after one new message, evaluates that message only', async () => {
    const { alice, text, bobCounts, counts } = await setup();
    for (let i = 0; i < 20; i++) await text(alice, `message ${i}`);
    expect(await bobCounts()).toEqual({ notifications: 20, highlights: 0 });
    const afterCold = counts.eventsEvaluated;
    await text(alice, 'one more');
    expect(await bobCounts()).toEqual({ notifications: 21, highlights: 0 });
    expect(counts.eventsEvaluated - afterCold).toBe(1);
    // Nothing new: nothing evaluated.
    expect(await bobCounts()).toEqual({ notifications: 21, highlights: 0 });
    expect(counts.eventsEvaluated - afterCold).toBe(1);
  });

  it('a read receipt resets the counts; later messages count again', async () => {
    const { alice, bob, text, bobCounts, readUpTo, counts } = await setup();
    await text(alice, 'one', { 'm.mentions': { user_ids: [bob] } });
    const two = await text(alice, 'two');
    await text(alice, 'three');
    expect(await bobCounts()).toEqual({ notifications: 3, highlights: 1 });
    await readUpTo(two);
    expect(await bobCounts()).toEqual({ notifications: 1, highlights: 0 });
    const before = counts.eventsEvaluated;
    const four = await text(alice, 'four');
    expect(await bobCounts()).toEqual({ notifications: 2, highlights: 0 });
    expect(counts.eventsEvaluated - before).toBe(1);
    await readUpTo(four);
    expect(await bobCounts()).toEqual({ notifications: 0, highlights: 0 });
  });

  it('counts again when the rules change', async () => {
    const { alice, bob, text, bobCounts, s } = await setup();
    await text(alice, 'one');
    await text(alice, 'two');
    expect(await bobCounts()).toEqual({ notifications: 2, highlights: 0 });
    await s.services.pushRules.setEnabled(bob, 'override', '.m.rule.master', true);
    expect(await bobCounts()).toEqual({ notifications: 0, highlights: 0 });
    await text(alice, 'three');
    expect(await bobCounts()).toEqual({ notifications: 0, highlights: 0 });
    await s.services.pushRules.setEnabled(bob, 'override', '.m.rule.master', false);
    await s.services.pushRules.setActions(bob, 'underride', '.m.rule.message', [
      'notify',
      { set_tweak: 'highlight' },
    ]);
    expect(await bobCounts()).toEqual({ notifications: 3, highlights: 3 });
  });

  it('a cold count evaluates at most maxEventsPerCount events', async () => {
    const { alice, text, bobCounts, counts } = await setup({ maxEventsPerCount: 3 });
    for (let i = 0; i < 5; i++) await text(alice, `message ${i}`);
    expect(await bobCounts()).toEqual({ notifications: 3, highlights: 0 });
    expect(counts.eventsEvaluated).toBe(3);
    // From there on, new messages add up.
    await text(alice, 'six');
    expect(await bobCounts()).toEqual({ notifications: 4, highlights: 0 });
  });

  it('@room highlights by power level, read again when the power levels change', async () => {
    const { s, alice, carol, roomId, text, bobCounts } = await setup();
    await text(alice, 'everyone!', { 'm.mentions': { room: true } });
    expect(await bobCounts()).toEqual({ notifications: 1, highlights: 1 });
    // Carol has power level 0 (< notifications.room, 50): a plain message.
    await text(carol, 'everyone?', { 'm.mentions': { room: true } });
    expect(await bobCounts()).toEqual({ notifications: 2, highlights: 1 });
    const state = await s.rooms.roomGraph.currentState(roomId);
    const powerLevelsId = state.get(stateKeyOf('m.room.power_levels', '')) as string;
    const powerLevels = (await s.rooms.roomGraph.getEvent(powerLevelsId))?.content;
    await s.rooms.roomMessages.setState(
      { userId: alice, deviceId: 'D', isAdmin: false },
      roomId,
      'm.room.power_levels',
      '',
      { ...powerLevels, notifications: { room: 0 } },
    );
    await text(carol, 'everyone, now', { 'm.mentions': { room: true } });
    expect(await bobCounts()).toEqual({ notifications: 3, highlights: 2 });
  });

  it("contains_display_name matches the user's name in the room", async () => {
    const { s, alice, bob, text, bobCounts } = await setup();
    await s.services.pushRules.putRule(bob, 'override', 'my-name', {
      actions: ['notify', { set_tweak: 'highlight' }],
      conditions: [{ kind: 'contains_display_name' }],
    });
    await text(alice, 'is BOB around?');
    await text(alice, 'bobby is');
    expect(await bobCounts()).toEqual({ notifications: 2, highlights: 1 });
  });

  it('keeps a bounded memo', async () => {
    const { s, alice, bob, text, counts } = await setup({ memoSize: 1 });
    const other = await s.rooms.roomCreation.create(alice, { preset: 'public_chat' });
    await s.rooms.roomMembership.join(bob, other);
    await text(alice, 'hi');
    const values = await s.db.read((db) =>
      selectSequenceValues(db, ['stream_ordering', 'receipts']),
    );
    const at = { events: values.stream_ordering, receipts: values.receipts };
    const rooms = (await s.rooms.roomMembership.joinedRooms(bob)).sort();
    for (const roomId of rooms) await counts.countsFor(bob, roomId, at);
    const evaluated = counts.eventsEvaluated;
    // Each room pushes the other out: both are counted from scratch again.
    for (const roomId of rooms) await counts.countsFor(bob, roomId, at);
    expect(counts.eventsEvaluated).toBe(evaluated * 2);
    expect(evaluated).toBeGreaterThan(0);
  });
});
