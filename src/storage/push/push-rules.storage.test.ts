import { afterEach, describe, expect, it } from 'vitest';
import { openRoomServices, type TestRoomServices } from '../../../test/helpers/room-services.js';
import { openTestDatabaseConfig } from '../../../test/helpers/test-database.js';
import { upsertReceipt } from '../ephemeral/receipts.js';
import { openTenantDatabase, type TenantDatabase } from '../tenant-database.js';
import {
  deletePushRulesOfUser,
  deleteUserPushRule,
  selectPushRuleOverrides,
  selectUserPushRules,
  updateUserPushRule,
  updateUserPushRulePositions,
  upsertPushRuleOverride,
  upsertUserPushRule,
  type StoredPushRule,
} from './push-rules.js';
import { selectEventsToCount, selectReadPosition } from './unread-events.js';

const ALICE = '@alice:alpha.test';
const BOB = '@bob:alpha.test';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function openDatabase(): Promise<TenantDatabase> {
  const test = await openTestDatabaseConfig();
  const db = await openTenantDatabase(test.config, { serverName: 'alpha.test' });
  cleanups.push(async () => {
    await db.close();
    await test.cleanup();
  });
  return db;
}

function rule(kind: string, ruleId: string, position: number): StoredPushRule {
  return {
    kind,
    ruleId,
    position,
    conditions: kind === 'override' ? [{ kind: 'event_match', key: 'type', pattern: 'x' }] : null,
    pattern: kind === 'content' ? 'cake*' : null,
    actions: ['notify', { set_tweak: 'sound', value: 'bing' }],
    enabled: true,
  };
}

describe('push rule queries', () => {
  it("stores a user's rules and reads them back by kind and position", async () => {
    const db = await openDatabase();
    await db.transact(async (trx) => {
      await upsertUserPushRule(trx, ALICE, rule('override', 'o', 0));
      await upsertUserPushRule(trx, ALICE, rule('content', 'second', 1));
      await upsertUserPushRule(trx, ALICE, rule('content', 'first', 0));
      await upsertUserPushRule(trx, BOB, rule('content', 'bobs', 0));
    });
    const rules = await db.read((d) => selectUserPushRules(d, ALICE));
    expect(rules.map((r) => `${r.kind}/${r.ruleId}`)).toEqual([
      'content/first',
      'content/second',
      'override/o',
    ]);
    expect(rules[2]).toEqual(rule('override', 'o', 0));
    expect(rules[0]).toEqual(rule('content', 'first', 0));

    // Replacing keeps one row per (user, kind, rule ID).
    await db.transact((trx) =>
      upsertUserPushRule(trx, ALICE, { ...rule('content', 'first', 5), actions: [] }),
    );
    const replaced = await db.read((d) => selectUserPushRules(d, ALICE));
    expect(replaced.filter((r) => r.ruleId === 'first')).toEqual([
      { ...rule('content', 'first', 5), actions: [] },
    ]);
  });

  it('renumbers positions, changes enabled and actions, deletes', async () => {
    const db = await openDatabase();
    await db.transact(async (trx) => {
      for (const [position, id] of ['a', 'b', 'c'].entries()) {
        await upsertUserPushRule(trx, ALICE, rule('content', id, position));
      }
      await updateUserPushRulePositions(trx, ALICE, 'content', ['c', 'a', 'b', 'unknown']);
    });
    const order = async () =>
      (await db.read((d) => selectUserPushRules(d, ALICE))).map((r) => [r.ruleId, r.position]);
    expect(await order()).toEqual([
      ['c', 0],
      ['a', 1],
      ['b', 2],
    ]);

    expect(
      await db.transact((trx) =>
        updateUserPushRule(trx, ALICE, 'content', 'a', { enabled: false, actions: [] }),
      ),
    ).toBe(true);
    expect(
      await db.transact((trx) => updateUserPushRule(trx, ALICE, 'room', 'a', { enabled: false })),
    ).toBe(false);
    const a = (await db.read((d) => selectUserPushRules(d, ALICE))).find((r) => r.ruleId === 'a');
    expect(a).toMatchObject({ enabled: false, actions: [] });

    expect(await db.transact((trx) => deleteUserPushRule(trx, ALICE, 'content', 'a'))).toBe(true);
    expect(await db.transact((trx) => deleteUserPushRule(trx, ALICE, 'content', 'a'))).toBe(false);
    expect(await order()).toEqual([
      ['c', 0],
      ['b', 2],
    ]);
  });

  it('keeps changes to server-default rules field by field', async () => {
    const db = await openDatabase();
    await db.transact((trx) =>
      upsertPushRuleOverride(trx, ALICE, 'override', '.m.rule.master', { enabled: true }),
    );
    expect(await db.read((d) => selectPushRuleOverrides(d, ALICE))).toEqual([
      { kind: 'override', ruleId: '.m.rule.master', enabled: true, actions: undefined },
    ]);
    await db.transact((trx) =>
      upsertPushRuleOverride(trx, ALICE, 'override', '.m.rule.master', { actions: ['notify'] }),
    );
    await db.transact((trx) =>
      upsertPushRuleOverride(trx, ALICE, 'underride', '.m.rule.message', { enabled: false }),
    );
    expect(await db.read((d) => selectPushRuleOverrides(d, ALICE))).toEqual([
      { kind: 'override', ruleId: '.m.rule.master', enabled: true, actions: ['notify'] },
      { kind: 'underride', ruleId: '.m.rule.message', enabled: false, actions: undefined },
    ]);
    expect(await db.read((d) => selectPushRuleOverrides(d, BOB))).toEqual([]);
  });

  it('forgets everything of a user, and only theirs', async () => {
    const db = await openDatabase();
    await db.transact(async (trx) => {
      await upsertUserPushRule(trx, ALICE, rule('content', 'a', 0));
      await upsertUserPushRule(trx, BOB, rule('content', 'b', 0));
      await upsertPushRuleOverride(trx, ALICE, 'override', '.m.rule.master', { enabled: true });
      await deletePushRulesOfUser(trx, ALICE);
    });
    expect(await db.read((d) => selectUserPushRules(d, ALICE))).toEqual([]);
    expect(await db.read((d) => selectPushRuleOverrides(d, ALICE))).toEqual([]);
    expect(await db.read((d) => selectUserPushRules(d, BOB))).toHaveLength(1);
  });
});

describe('unread event queries', () => {
  async function room(): Promise<{ s: TestRoomServices; roomId: string; sent: string[] }> {
    const s = await openRoomServices();
    cleanups.push(() => s.close());
    const alice = await s.createUser('alice');
    const bob = await s.createUser('bob');
    const roomId = await s.rooms.roomCreation.create(alice, { preset: 'public_chat' });
    await s.rooms.roomMembership.join(bob, roomId);
    const sent: string[] = [];
    for (const [i, body] of ['one', 'two', 'three'].entries()) {
      sent.push(
        await s.rooms.roomMessages.send(
          { userId: alice, deviceId: 'D', isAdmin: false },
          roomId,
          'm.room.message',
          `t${i}`,
          { msgtype: 'm.text', body },
        ),
      );
    }
    return { s, roomId, sent };
  }

  const positionOf = async (s: TestRoomServices, eventId: string) =>
    (await s.rooms.roomGraph.eventStatuses([eventId])).get(eventId)?.streamOrdering as number;

  it('reads the latest of m.read and m.read.private, unthreaded or main, and nothing else', async () => {
    const { s, roomId, sent } = await room();
    const [one, two, three] = sent as [string, string, string];
    const read = () => s.db.read((d) => selectReadPosition(d, roomId, BOB));
    expect(await read()).toBe(0);
    const receipt = (receiptType: string, eventId: string, threadId = '') =>
      s.db.transact((trx) =>
        upsertReceipt(trx, { roomId, receiptType, userId: BOB, threadId, eventId, data: {} }),
      );
    await receipt('m.read', two);
    expect(await read()).toBe(await positionOf(s, two));
    await receipt('m.read.private', one);
    expect(await read()).toBe(await positionOf(s, two));
    // A receipt in a thread, or someone else's, does not mark the main timeline read.
    await receipt('m.read', three, '$thread-root');
    await s.db.transact((trx) =>
      upsertReceipt(trx, {
        roomId,
        receiptType: 'm.read',
        userId: ALICE,
        threadId: '',
        eventId: three,
        data: {},
      }),
    );
    expect(await read()).toBe(await positionOf(s, two));
    await receipt('m.read.private', three, 'main');
    expect(await read()).toBe(await positionOf(s, three));
  });

  it('lists the latest events after a position, oldest first, with their PDUs', async () => {
    const { s, roomId, sent } = await room();
    const [one, two, three] = sent as [string, string, string];
    const after = await positionOf(s, one);
    const upTo = await positionOf(s, three);
    const events = await s.db.read((d) => selectEventsToCount(d, roomId, after, upTo, 10));
    expect(
      events.map((e) => (JSON.parse(e.pdu) as { content: { body: string } }).content.body),
    ).toEqual(['two', 'three']);
    expect(events[0]).toMatchObject({ sender: ALICE, stateKey: null });
    expect(events[0]?.streamOrdering).toBe(await positionOf(s, two));
    // The limit keeps the latest.
    const latest = await s.db.read((d) => selectEventsToCount(d, roomId, 0, upTo, 1));
    expect(latest.map((e) => e.streamOrdering)).toEqual([upTo]);
    // State events carry their state key.
    const all = await s.db.read((d) => selectEventsToCount(d, roomId, 0, upTo, 100));
    expect(all.some((e) => e.stateKey === BOB)).toBe(true);
    expect(await s.db.read((d) => selectEventsToCount(d, roomId, upTo, upTo, 10))).toEqual([]);
  });
});
