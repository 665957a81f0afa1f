/**
 * The room graph on SQLite with a big room: 5,000 members and ~10,000 state events (joins, then
 * display name changes) among ~12,000 real signed PDUs, all through checkEvent + persistEvent.
 * Measures the state before a new event, the resolution of a two-way fork, and storage per event.
 * Run: npx tsx bench/room-graph.bench.ts [room version, default 12]
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { RoomEvent } from '../src/protocol/room-event.js';
import { requireRoomVersion } from '../src/protocol/room-versions.js';
import { resolveState } from '../src/protocol/state-resolution/resolve-state.js';
import { RoomGraph } from '../src/services/room-graph/room-graph.js';
import { selectAuthEventIds } from '../src/storage/room-graph/events.js';
import { openTenantDatabase } from '../src/storage/tenant-database.js';
import type { TenantDatabase } from '../src/storage/tenant-database.js';
import { SignedRoom } from '../test/helpers/signed-room.js';

const VERSION = process.argv[2] ?? '12';
const MEMBERS = 5_000;
const RENAMES = 5_000;
const MESSAGES = 2_000; // interleaved with the renames, 2 in 7
const SAMPLES = 200;
const BRANCH_CHANGES = 100;
const ALICE = '@alice:a.test';

const user = (i: number) => `@user${i}:m${i % 50}.test`;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function ms(value: number): string {
  return `${value.toFixed(2)} ms`;
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const result = await fn();
  return [result, performance.now() - start];
}

async function receive(graph: RoomGraph, event: RoomEvent): Promise<void> {
  const check = await graph.checkEvent(event);
  if (check.rejected) throw new Error(`${event.eventId} rejected: ${check.rejected.reason}`);
  await graph.persistEvent(event, check);
}

async function count(db: TenantDatabase, table: string): Promise<number> {
  const { rows } = await db.read((k) =>
    sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(k),
  );
  return Number(rows[0]?.n);
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'marina-bench-graph-'));
  const path = join(dir, 'tenant.sqlite');
  try {
    const db = await openTenantDatabase({ dialect: 'sqlite', path }, { serverName: 'a.test' });
    const graph = new RoomGraph(db);
    const room = new SignedRoom(VERSION, ALICE, { keepHistory: false });
    await graph.createRoom(room.roomId, room.version.id);
    console.log(`room version ${VERSION}, SQLite at ${path}`);

    // Build and store the room in slices so memory holds one slice of PDUs at a time.
    let stored = 0;
    let storing = 0;
    const flush = async () => {
      const events = room.events.splice(0);
      const [, took] = await timed(async () => {
        for (const event of events) await receive(graph, event);
      });
      storing += took;
      stored += events.length;
    };
    room.join(ALICE);
    room.powerLevels(ALICE, {});
    room.state(ALICE, 'm.room.join_rules', { join_rule: 'public' });
    for (let i = 0; i < MEMBERS; i++) {
      room.join(user(i));
      if (i % 500 === 499) await flush();
    }
    for (let i = 0; i < RENAMES + MESSAGES; i++) {
      // Two events in seven are messages, the rest display name changes.
      if (i % 7 === 3 || i % 7 === 6) room.message(user(i % MEMBERS), `message ${i}`);
      else
        room.member(user(i % MEMBERS), user(i % MEMBERS), 'join', {
          content: { membership: 'join', displayname: `User ${i}` },
        });
      if (i % 500 === 499) await flush();
    }
    await flush();
    const stateEvents = await db.read(async (k) =>
      Number(
        (
          await k
            .selectFrom('events')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('state_key', 'is not', null)
            .executeTakeFirstOrThrow()
        ).n,
      ),
    );
    console.log(
      `stored ${stored} events (${stateEvents} state events) in ${(storing / 1000).toFixed(1)} s: ` +
        `${Math.round(stored / (storing / 1000))} events/s through checkEvent + persistEvent`,
    );

    // State before a new event, as events keep arriving: each sample is the next event (a rename
    // or a message on top of the last one), which is then checked and stored.
    const before: number[] = [];
    const receiving: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const target = user(i);
      const event =
        i % 2 === 0
          ? room.message(target, `sample ${i}`)
          : room.member(target, target, 'join', {
              content: { membership: 'join', displayname: `Sample ${i}` },
            });
      const [state, took] = await timed(() =>
        graph.computeStateBefore(room.roomId, event.prevEventIds),
      );
      if (state.size !== MEMBERS + 4) throw new Error(`unexpected state size ${state.size}`);
      before.push(took);
      const [, receiveTook] = await timed(() => receive(graph, event));
      receiving.push(receiveTook);
    }
    room.events.splice(0);
    before.sort((a, b) => a - b);
    receiving.sort((a, b) => a - b);
    console.log(
      `computeStateBefore for the next event (prev = last event): p50 ${ms(percentile(before, 50))}, p95 ${ms(percentile(before, 95))}`,
    );
    console.log(
      `  receiving it (checkEvent + persistEvent): p50 ${ms(percentile(receiving, 50))}, p95 ${ms(percentile(receiving, 95))}`,
    );
    const [head] = await graph.forwardExtremities(room.roomId);
    // The state before any stored event, from empty caches (e.g. answering /state_ids).
    const eventIds = (
      await db.read((k) =>
        k.selectFrom('events').select('event_id').orderBy('stream_ordering').execute(),
      )
    ).map((row) => row.event_id);
    const coldSamples: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const prev = eventIds[Math.floor(((i + 0.5) / SAMPLES) * eventIds.length)] as string;
      const fresh = new RoomGraph(db);
      const [, took] = await timed(() => fresh.computeStateBefore(room.roomId, [prev]));
      coldSamples.push(took);
    }
    coldSamples.sort((a, b) => a - b);
    console.log(
      `computeStateBefore, prev = any stored event, empty caches: p50 ${ms(percentile(coldSamples, 50))}, p95 ${ms(percentile(coldSamples, 95))}`,
    );

    // A two-way fork: both branches rename members (half of them the same ones) and set the topic.
    const fork = head as string;
    const forkState = room.stateAfter(fork);
    const branch = (offset: number, prevEvents?: readonly string[]) => {
      for (let i = 0; i < BRANCH_CHANGES; i++) {
        const target = user(offset + i);
        const extra = i === 0 && prevEvents ? { prevEvents, state: forkState } : {};
        room.member(target, target, 'join', {
          content: { membership: 'join', displayname: `Branch ${offset} ${i}` },
          ...extra,
        });
      }
      room.state(ALICE, 'm.room.topic', { topic: `branch ${offset}` });
      return room.head;
    };
    const tipA = branch(0, [fork]);
    const tipB = branch(BRANCH_CHANGES / 2, [fork]);
    for (const event of room.events.splice(0)) await receive(graph, event);
    const extremities = await graph.forwardExtremities(room.roomId);
    if (extremities.length !== 2)
      throw new Error(`expected 2 extremities, not ${extremities.length}`);
    // Each figure: the median of 5 runs, each on a fresh RoomGraph (its caches empty).
    const median = async (
      prepare: (graph: RoomGraph) => Promise<void>,
      eventCacheSize?: number,
    ) => {
      const runs: number[] = [];
      for (let i = 0; i < 5; i++) {
        const fresh = new RoomGraph(db, { eventCacheSize });
        await prepare(fresh);
        const [, took] = await timed(() => fresh.computeStateBefore(room.roomId, [tipA, tipB]));
        runs.push(took);
      }
      return percentile(
        runs.sort((a, b) => a - b),
        50,
      );
    };
    const ids = (await db.read((k) => k.selectFrom('events').select('event_id').execute())).map(
      (row) => row.event_id,
    );
    const cold = await median(async () => {});
    const statesLoaded = await median(async (fresh) => {
      await fresh.stateAfterEvent(tipA);
      await fresh.stateAfterEvent(tipB);
    });
    const allCached = await median(async (fresh) => {
      await fresh.stateAfterEvent(tipA);
      await fresh.stateAfterEvent(tipB);
      await fresh.getEvents(ids);
    }, ids.length);
    console.log(
      `two-way fork merged by one event (${BRANCH_CHANGES + 1} state changes per branch, ` +
        `${BRANCH_CHANGES / 2 + 1} keys in conflict), median of 5:`,
    );
    console.log(
      `  from empty caches (load both states, walk auth edges, fetch events): ${ms(cold)}`,
    );
    console.log(
      `  both states cached, auth edges and events read from SQLite:         ${ms(statesLoaded)}`,
    );
    console.log(
      `  states and events cached (resolution itself):                       ${ms(allCached)}`,
    );

    // Where a cold resolution goes, run by hand as RoomGraph runs it (medians of 5), and the
    // same resolution fetching every event of the states' auth chains (no fetchAuthEventIds).
    const version = requireRoomVersion(VERSION);
    const parts = { states: [] as number[], edges: [] as number[], events: [] as number[] };
    const rest: number[] = [];
    const overEvents: number[] = [];
    let edgeIds = 0;
    let fetchedIds = 0;
    for (let i = 0; i < 5; i++) {
      const fresh = new RoomGraph(db);
      const [states, statesTook] = await timed(async () => [
        (await fresh.stateAfterEvent(tipA)) as Map<string, string>,
        (await fresh.stateAfterEvent(tipB)) as Map<string, string>,
      ]);
      let edgesTook = 0;
      let eventsTook = 0;
      edgeIds = 0;
      fetchedIds = 0;
      const [, took] = await timed(() =>
        resolveState(
          version,
          states,
          async (wanted) => {
            const [events, t] = await timed(() => fresh.getEvents(wanted));
            eventsTook += t;
            fetchedIds += wanted.length;
            return events;
          },
          {
            fetchAuthEventIds: async (wanted) => {
              const [edges, t] = await timed(() => db.read((k) => selectAuthEventIds(k, wanted)));
              edgesTook += t;
              edgeIds += wanted.length;
              return edges;
            },
          },
        ),
      );
      parts.states.push(statesTook);
      parts.edges.push(edgesTook);
      parts.events.push(eventsTook);
      rest.push(took - edgesTook - eventsTook);
      const other = new RoomGraph(db);
      const [, oldTook] = await timed(async () => {
        const again = [
          (await other.stateAfterEvent(tipA)) as Map<string, string>,
          (await other.stateAfterEvent(tipB)) as Map<string, string>,
        ];
        await resolveState(version, again, (wanted) => other.getEvents(wanted));
      });
      overEvents.push(oldTook);
    }
    const med = (values: number[]) =>
      percentile(
        values.sort((a, b) => a - b),
        50,
      );
    console.log(
      `  cold, by part: load both states ${ms(med(parts.states))}, auth edges of ${edgeIds} events ` +
        `${ms(med(parts.edges))}, ${fetchedIds} events fetched and parsed ${ms(med(parts.events))}, ` +
        `resolution ${ms(med(rest))}`,
    );
    console.log(
      `  cold, fetching every event of the auth chains instead (no fetchAuthEventIds): ${ms(med(overEvents))}`,
    );

    // Storage.
    const events = await count(db, 'events');
    const entries = await count(db, 'state_group_entries');
    const groups = await count(db, 'state_groups');
    const eventGroups = await count(db, 'event_to_state_group');
    const snapshots = await db.read(async (k) =>
      Number(
        (
          await k
            .selectFrom('state_groups')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('prev_state_group', 'is', null)
            .executeTakeFirstOrThrow()
        ).n,
      ),
    );
    await db.close();
    const size = (await stat(path)).size;
    console.log(
      `storage: ${events} events, SQLite file ${(size / 1024 / 1024).toFixed(1)} MiB = ${Math.round(size / events)} bytes/event`,
    );
    console.log(
      `state rows: ${entries} entries in ${groups} groups (${snapshots} snapshots) + ${eventGroups} event_to_state_group = ` +
        `${((entries + groups + eventGroups) / events).toFixed(2)} rows/event, ` +
        `${(entries / (stateEvents + SAMPLES / 2 + 2 * BRANCH_CHANGES + 2)).toFixed(2)} entries per state event`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
