import { afterEach, describe, expect, it } from 'vitest';
import { openTestDatabaseConfig } from '../../../test/helpers/test-database.js';
import { stateKeyOf } from '../../protocol/room-event.js';
import type { StateKey, StateMap } from '../../protocol/room-event.js';
import type { TenantDatabase } from '../tenant-database.js';
import { openTenantDatabase } from '../tenant-database.js';
import { insertRoom } from './rooms.js';
import {
  MAX_STATE_CHAIN_LENGTH,
  MIN_STATE_DELTA_ROWS,
  diffStates,
  insertStateGroup,
  loadStateGroup,
  planStateGroup,
  selectStateGroupChain,
} from './state-groups.js';
import type { StateGroupInfo } from './state-groups.js';

const ROOM = '!room:a.test';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function openRoomDatabase(): Promise<TenantDatabase> {
  const test = await openTestDatabaseConfig();
  const db = await openTenantDatabase(test.config, { serverName: 'a.test' });
  cleanups.push(async () => {
    await db.close();
    await test.cleanup();
  });
  await db.transact((trx) => insertRoom(trx, ROOM, '10'));
  return db;
}

function member(n: number): StateKey {
  return stateKeyOf('m.room.member', `@user${n}:a.test`);
}

function stateOf(size: number, tag = ''): Map<StateKey, string> {
  const state = new Map<StateKey, string>([[stateKeyOf('m.room.create', ''), '$create']]);
  for (let i = 1; i < size; i++) state.set(member(i), `$join${i}${tag}`);
  return state;
}

/** Plans and stores `state` against `base` (if any), as the room graph does. */
async function store(
  db: TenantDatabase,
  state: StateMap,
  base?: { info: StateGroupInfo; state: StateMap },
): Promise<StateGroupInfo> {
  const plan = planStateGroup(state, base === undefined ? [] : [base]);
  if (plan.kind === 'existing') throw new Error('nothing to store');
  return db.transact((trx) => insertStateGroup(trx, ROOM, plan));
}

async function load(db: TenantDatabase, group: number, cached?: Map<number, StateMap>) {
  const loaded = await db.read((k) => loadStateGroup(k, group, (g) => cached?.get(g)));
  if (loaded === undefined) throw new Error(`no state group ${group}`);
  return loaded;
}

describe('state groups', () => {
  it('plans the smallest delta, reuses an identical state, and snapshots without a base', () => {
    const base = stateOf(10);
    const info: StateGroupInfo = {
      stateGroup: 7,
      roomId: ROOM,
      prevStateGroup: null,
      chainLength: 0,
      deltaRows: 0,
      snapshotRows: 10,
    };
    expect(planStateGroup(new Map(base), [{ info, state: base }])).toEqual({
      kind: 'existing',
      stateGroup: 7,
    });
    const changed = new Map(base).set(member(3), '$leave3').set(member(99), '$join99');
    changed.delete(member(4));
    const plan = planStateGroup(changed, [{ info, state: base }]);
    expect(plan).toEqual({
      kind: 'delta',
      base: info,
      entries: new Map([
        [member(3), '$leave3'],
        [member(99), '$join99'],
        [member(4), null],
      ]),
    });
    expect(planStateGroup(changed, [])).toEqual({ kind: 'snapshot', entries: changed });
    // A chain with no room left, or a delta as big as the state, gives a snapshot.
    const full = { ...info, chainLength: MAX_STATE_CHAIN_LENGTH };
    expect(planStateGroup(changed, [{ info: full, state: base }]).kind).toBe('snapshot');
    const spent = { ...info, deltaRows: MIN_STATE_DELTA_ROWS };
    expect(planStateGroup(changed, [{ info: spent, state: base }]).kind).toBe('snapshot');
    const unrelated = new Map(Array.from({ length: 10 }, (_, i) => [member(100 + i), '$other']));
    expect(planStateGroup(unrelated, [{ info, state: base }]).kind).toBe('snapshot');
  });

  it('diffs states both ways and stops at the limit', () => {
    const from = stateOf(5);
    const to = new Map(from).set(member(9), '$join9');
    to.delete(member(1));
    expect(diffStates(from, to, 10)).toEqual(
      new Map([
        [member(9), '$join9'],
        [member(1), null],
      ]),
    );
    expect(diffStates(from, to, 1)).toBeUndefined();
    expect(diffStates(from, new Map(from), 0)).toEqual(new Map());
  });

  it('stores snapshots and deltas, removals included, and loads any group exactly', async () => {
    const db = await openRoomDatabase();
    const s0 = stateOf(100);
    const g0 = await store(db, s0);
    expect(g0).toMatchObject({ prevStateGroup: null, chainLength: 0, snapshotRows: 100 });

    const s1 = new Map(s0).set(member(100), '$join100');
    const g1 = await store(db, s1, { info: g0, state: s0 });
    const s2 = new Map(s1);
    s2.delete(member(5));
    s2.set(member(6), '$leave6');
    const g2 = await store(db, s2, { info: g1, state: s1 });
    expect(g2).toMatchObject({ prevStateGroup: g1.stateGroup, chainLength: 2, deltaRows: 3 });

    expect((await load(db, g0.stateGroup)).state).toEqual(s0);
    expect((await load(db, g1.stateGroup)).state).toEqual(s1);
    const loaded = await load(db, g2.stateGroup);
    expect(loaded.state).toEqual(s2);
    expect(loaded.info).toEqual(g2);
    expect(
      (await db.read((k) => selectStateGroupChain(k, g2.stateGroup))).map((g) => g.stateGroup),
    ).toEqual([g2.stateGroup, g1.stateGroup, g0.stateGroup]);
    // Starting from a cached group in the chain gives the same state.
    const cached = new Map<number, StateMap>([[g1.stateGroup, s1]]);
    expect((await load(db, g2.stateGroup, cached)).state).toEqual(s2);
    expect(await db.read((k) => loadStateGroup(k, 999_999))).toBeUndefined();
  });

  it('cuts delta chains with snapshots, so rows stay proportional to changes', async () => {
    const db = await openRoomDatabase();
    let state: Map<StateKey, string> = stateOf(1);
    let base = { info: await store(db, state), state: state as StateMap };
    const groups: Array<{ group: number; state: StateMap }> = [];
    const changes = 600;
    for (let i = 1; i <= changes; i++) {
      state = new Map(state).set(member(i), `$join${i}`);
      const info = await store(db, state, base);
      base = { info, state };
      groups.push({ group: info.stateGroup, state });
    }
    const rows = await db.read((k) =>
      k
        .selectFrom('state_group_entries')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow(),
    );
    const snapshots = await db.read((k) =>
      k
        .selectFrom('state_groups')
        .select('state_group')
        .where('prev_state_group', 'is', null)
        .execute(),
    );
    // The state doubles between snapshots: a handful of them, and at most ~3 rows per change.
    expect(snapshots.length).toBeGreaterThan(1);
    expect(snapshots.length).toBeLessThan(10);
    expect(Number(rows.n)).toBeLessThan(3 * changes);
    for (const index of [0, 299, groups.length - 1]) {
      const { group, state: expected } = groups[index] as { group: number; state: StateMap };
      const loaded = await load(db, group);
      expect(loaded.state).toEqual(expected);
      // Loading reads at most the snapshot plus as many delta rows again.
      expect(loaded.info.deltaRows).toBeLessThanOrEqual(
        Math.max(loaded.info.snapshotRows, MIN_STATE_DELTA_ROWS),
      );
    }
  });

  it('snapshots when a chain gets too long, whatever the size of the state', async () => {
    const db = await openRoomDatabase();
    // A big state changed at one key over and over: deltas are tiny, the chain is what grows.
    let state: Map<StateKey, string> = stateOf(MAX_STATE_CHAIN_LENGTH * 2);
    let base = { info: await store(db, state), state: state as StateMap };
    for (let i = 1; i <= MAX_STATE_CHAIN_LENGTH + 5; i++) {
      state = new Map(state).set(stateKeyOf('m.room.topic', ''), `$topic${i}`);
      base = { info: await store(db, state, base), state };
      if (i === MAX_STATE_CHAIN_LENGTH) expect(base.info.chainLength).toBe(MAX_STATE_CHAIN_LENGTH);
      if (i === MAX_STATE_CHAIN_LENGTH + 1) expect(base.info.chainLength).toBe(0);
    }
    expect(base.info.chainLength).toBe(4);
    expect((await load(db, base.info.stateGroup)).state).toEqual(state);
  }, 120_000);
});
