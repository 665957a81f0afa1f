/**
 * Room state as state groups. A group is a full room state, stored either as a snapshot (every
 * entry) or as a delta (the entries that differ) against a previous group. Groups never change
 * once written, so a group's state can be cached forever and planned outside a transaction.
 *
 * Space grows with state changes, not with members × events: an event that changes no state
 * shares its predecessor's group, a state event costs one delta row. A chain of deltas is cut by
 * a new snapshot once the rows stored since the last snapshot outgrow that snapshot (or the
 * chain gets long), so snapshots cost at most about as many rows as the deltas before them, and
 * loading any group reads at most about twice its size.
 */

import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { parseStateKey, stateKeyOf } from '../../protocol/room-event.js';
import type { StateKey, StateMap } from '../../protocol/room-event.js';
import type { Database } from '../schema.js';
import { MAX_IDS_PER_QUERY, MAX_ROWS_PER_INSERT, batches } from './batches.js';
import { nextSequenceValue } from './sequences.js';

/** Deltas a chain may hold before the next group is a snapshot: bounds the walk to load a group. */
export const MAX_STATE_CHAIN_LENGTH = 1024;
/** Delta rows always allowed in a chain, so that small rooms are not snapshotted all the time. */
export const MIN_STATE_DELTA_ROWS = 64;

export interface StateGroupInfo {
  readonly stateGroup: number;
  readonly roomId: string;
  /** Null for a snapshot. */
  readonly prevStateGroup: number | null;
  readonly chainLength: number;
  readonly deltaRows: number;
  readonly snapshotRows: number;
}

export interface LoadedStateGroup {
  readonly info: StateGroupInfo;
  /** A fresh map, the caller's to keep. */
  readonly state: Map<StateKey, string>;
}

/** How to store a room state: as a group that holds it already, a delta, or a snapshot. */
export type StateGroupPlan =
  | { readonly kind: 'existing'; readonly stateGroup: number }
  | {
      readonly kind: 'delta';
      readonly base: StateGroupInfo;
      /** Entries to set; null removes the key. */
      readonly entries: ReadonlyMap<StateKey, string | null>;
    }
  | { readonly kind: 'snapshot'; readonly entries: StateMap };

interface StateGroupRow {
  state_group: number;
  room_id: string;
  prev_state_group: number | null;
  chain_length: number;
  delta_rows: number;
  snapshot_rows: number;
}

function toInfo(row: StateGroupRow): StateGroupInfo {
  return {
    stateGroup: Number(row.state_group),
    roomId: row.room_id,
    prevStateGroup: row.prev_state_group === null ? null : Number(row.prev_state_group),
    chainLength: Number(row.chain_length),
    deltaRows: Number(row.delta_rows),
    snapshotRows: Number(row.snapshot_rows),
  };
}

export async function selectStateGroupInfo(
  db: Kysely<Database>,
  stateGroup: number,
): Promise<StateGroupInfo | undefined> {
  const row = await db
    .selectFrom('state_groups')
    .selectAll()
    .where('state_group', '=', stateGroup)
    .executeTakeFirst();
  return row === undefined ? undefined : toInfo(row);
}

/** The group and the groups its delta chain goes back through, the group first, its snapshot last. */
export async function selectStateGroupChain(
  db: Kysely<Database>,
  stateGroup: number,
): Promise<StateGroupInfo[]> {
  const { rows } = await sql<StateGroupRow>`
    with recursive chain (state_group, room_id, prev_state_group, chain_length, delta_rows, snapshot_rows) as (
      select state_group, room_id, prev_state_group, chain_length, delta_rows, snapshot_rows
        from state_groups where state_group = ${stateGroup}
      union all
      select g.state_group, g.room_id, g.prev_state_group, g.chain_length, g.delta_rows, g.snapshot_rows
        from state_groups g join chain c on g.state_group = c.prev_state_group
    )
    select * from chain order by chain_length desc`.execute(db);
  return rows.map(toInfo);
}

/**
 * Reads a group's full state. `cached` may return the state of groups already in memory: the
 * walk down the delta chain stops at the first one it knows. Undefined if the group is unknown.
 */
export async function loadStateGroup(
  db: Kysely<Database>,
  stateGroup: number,
  cached?: (stateGroup: number) => StateMap | undefined,
): Promise<LoadedStateGroup | undefined> {
  const chain = await selectStateGroupChain(db, stateGroup);
  const [info] = chain;
  if (info === undefined) return undefined;
  let start: StateMap | undefined;
  let startChainLength = -1;
  for (const group of cached === undefined ? [] : chain) {
    start = cached?.(group.stateGroup);
    if (start !== undefined) {
      startChainLength = group.chainLength;
      break;
    }
  }
  if (start !== undefined && startChainLength === info.chainLength) {
    return { info, state: new Map(start) };
  }
  // The groups of the chain above the known one, oldest (the snapshot, or the first delta on
  // top of the known group) first: chain lengths strictly grow along a chain.
  const { rows } = await sql<{ type: string; state_key: string; event_id: string | null }>`
    with recursive chain (state_group, prev_state_group, chain_length) as (
      select state_group, prev_state_group, chain_length
        from state_groups where state_group = ${stateGroup}
      union all
      select g.state_group, g.prev_state_group, g.chain_length
        from state_groups g join chain c on g.state_group = c.prev_state_group
        where g.chain_length > ${startChainLength}
    )
    select e.type, e.state_key, e.event_id
      from chain c join state_group_entries e on e.state_group = c.state_group
      order by c.chain_length`.execute(db);
  const state = new Map<StateKey, string>(start);
  for (const row of rows) {
    const key = stateKeyOf(row.type, row.state_key);
    if (row.event_id === null) state.delete(key);
    else state.set(key, row.event_id);
  }
  return { info, state };
}

/**
 * Decides how to store `state`: reuse a candidate group that holds exactly it, else the smallest
 * delta against a candidate whose chain has room, else a snapshot. Pure: run it outside the
 * transaction (groups never change).
 */
export function planStateGroup(
  state: StateMap,
  candidates: ReadonlyArray<{
    readonly info: StateGroupInfo;
    readonly state: StateMap;
    /** What turns the candidate's state into `state`, when the caller knows it already. */
    readonly delta?: ReadonlyMap<StateKey, string | null>;
  }>,
): StateGroupPlan {
  let best: { base: StateGroupInfo; entries: Map<StateKey, string | null> } | undefined;
  for (const candidate of candidates) {
    const { info } = candidate;
    const chainHasRoom = info.chainLength < MAX_STATE_CHAIN_LENGTH;
    const budget = Math.max(info.snapshotRows, MIN_STATE_DELTA_ROWS) - info.deltaRows;
    // A delta as large as the state itself is better stored as a snapshot.
    let limit = chainHasRoom ? Math.min(budget, state.size - 1) : 0;
    if (best !== undefined) limit = Math.min(limit, best.entries.size - 1);
    const entries = candidate.delta ?? diffStates(candidate.state, state, Math.max(limit, 0));
    if (entries === undefined) continue;
    if (entries.size === 0) return { kind: 'existing', stateGroup: info.stateGroup };
    if (entries.size <= limit) best = { base: info, entries: new Map(entries) };
  }
  if (best !== undefined) return { kind: 'delta', ...best };
  return { kind: 'snapshot', entries: state };
}

/**
 * What to set on `from` to get `to` (null: remove), or undefined as soon as that takes more than
 * `limit` entries.
 */
export function diffStates(
  from: StateMap,
  to: StateMap,
  limit: number,
): Map<StateKey, string | null> | undefined {
  const entries = new Map<StateKey, string | null>();
  if (from === to) return entries;
  for (const [key, eventId] of to) {
    if (from.get(key) !== eventId) {
      entries.set(key, eventId);
      if (entries.size > limit) return undefined;
    }
  }
  // Every key of `to` is in `from` with the same value, so equal sizes mean nothing was removed.
  if (from.size + countAdded(from, entries) === to.size) return entries;
  for (const key of from.keys()) {
    if (!to.has(key)) {
      entries.set(key, null);
      if (entries.size > limit) return undefined;
    }
  }
  return entries;
}

function countAdded(from: StateMap, entries: ReadonlyMap<StateKey, string | null>): number {
  let added = 0;
  for (const key of entries.keys()) if (!from.has(key)) added++;
  return added;
}

/** Writes a planned delta or snapshot as a new group (in the caller's transaction). */
export async function insertStateGroup(
  trx: Kysely<Database>,
  roomId: string,
  plan: Exclude<StateGroupPlan, { kind: 'existing' }>,
): Promise<StateGroupInfo> {
  const stateGroup = await nextSequenceValue(trx, 'state_group');
  const info: StateGroupInfo =
    plan.kind === 'delta'
      ? {
          stateGroup,
          roomId,
          prevStateGroup: plan.base.stateGroup,
          chainLength: plan.base.chainLength + 1,
          deltaRows: plan.base.deltaRows + plan.entries.size,
          snapshotRows: plan.base.snapshotRows,
        }
      : {
          stateGroup,
          roomId,
          prevStateGroup: null,
          chainLength: 0,
          deltaRows: 0,
          snapshotRows: plan.entries.size,
        };
  await trx
    .insertInto('state_groups')
    .values({
      state_group: info.stateGroup,
      room_id: info.roomId,
      prev_state_group: info.prevStateGroup,
      chain_length: info.chainLength,
      delta_rows: info.deltaRows,
      snapshot_rows: info.snapshotRows,
    })
    .execute();
  const rows = [...plan.entries].map(([key, eventId]) => {
    const { type, stateKey } = parseStateKey(key);
    return { state_group: stateGroup, type, state_key: stateKey, event_id: eventId };
  });
  for (const batch of batches(rows, MAX_ROWS_PER_INSERT)) {
    await trx.insertInto('state_group_entries').values(batch).execute();
  }
  return info;
}

export interface EventStateGroupRow {
  readonly eventId: string;
  readonly stateGroup: number;
  readonly replacesState: string | null;
}

export async function insertEventStateGroup(
  trx: Kysely<Database>,
  row: EventStateGroupRow,
): Promise<void> {
  await trx
    .insertInto('event_to_state_group')
    .values({
      event_id: row.eventId,
      state_group: row.stateGroup,
      replaces_state: row.replacesState,
    })
    .execute();
}

/** Where to find the state after a stored event, and what the event was. */
export interface EventStateRow extends EventStateGroupRow {
  readonly roomId: string;
  readonly type: string;
  readonly stateKey: string | null;
  readonly rejected: boolean;
  readonly streamOrdering: number;
}

/** The state groups (state after) of those of `eventIds` that have one (outliers have none). */
export async function selectEventStates(
  db: Kysely<Database>,
  eventIds: readonly string[],
): Promise<Map<string, EventStateRow>> {
  const result = new Map<string, EventStateRow>();
  for (const batch of batches([...new Set(eventIds)], MAX_IDS_PER_QUERY)) {
    const rows = await db
      .selectFrom('event_to_state_group as s')
      .innerJoin('events as e', 'e.event_id', 's.event_id')
      .select([
        's.event_id',
        's.state_group',
        's.replaces_state',
        'e.room_id',
        'e.type',
        'e.state_key',
        'e.rejected_reason',
        'e.stream_ordering',
      ])
      .where('s.event_id', 'in', batch)
      .execute();
    for (const row of rows) {
      result.set(row.event_id, {
        eventId: row.event_id,
        stateGroup: Number(row.state_group),
        replacesState: row.replaces_state,
        roomId: row.room_id,
        type: row.type,
        stateKey: row.state_key,
        rejected: row.rejected_reason !== null,
        streamOrdering: Number(row.stream_ordering),
      });
    }
  }
  return result;
}
