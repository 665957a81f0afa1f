import { describe, expect, it } from 'vitest';
import type { RoomVersion } from '../room-versions.js';
import { requireRoomVersion } from '../room-versions.js';
import { authChainDifference } from './auth-chain.js';
import { resolveState } from './resolve-state.js';
import { ALICE, BOB, CHARLIE, EVELYN, EventGraph, ZARA, eventIdOf } from './test-room.js';
import type { NodeSpec } from './test-room.js';

// The classic state resolution v2 scenarios of homeserver test suites. Each builds the initial
// room (CREATE, IMA, IPOWER with Alice at 100, IJR public, IMB, IMC, IMZ, START), forks it with
// the given prev_events chains and checks the state at END: the state at START with exactly the
// listed events replacing theirs.

const V2_VERSIONS = ['2', '3', '6', '10', '11'].map(requireRoomVersion);

function powerLevels(
  id: string,
  sender: string,
  users: Record<string, number>,
  extra = {},
): NodeSpec {
  return { id, sender, type: 'm.room.power_levels', stateKey: '', content: { users, ...extra } };
}

function topic(id: string, sender: string): NodeSpec {
  return { id, sender, type: 'm.room.topic', stateKey: '', content: {} };
}

function member(id: string, sender: string, target: string, membership: string): NodeSpec {
  return { id, sender, type: 'm.room.member', stateKey: target, content: { membership } };
}

async function expectEndState(
  roomVersion: RoomVersion,
  nodes: readonly NodeSpec[],
  edges: readonly (readonly string[])[],
  changed: readonly string[],
): Promise<EventGraph> {
  const graph = await EventGraph.build(roomVersion, nodes, edges);
  expect(graph.namedState('END')).toEqual({
    ...graph.namedState('START'),
    ...graph.named(changed),
  });
  return graph;
}

describe.each(V2_VERSIONS)('state resolution v2 scenarios, room version $id', (roomVersion) => {
  it('ban vs power levels: the ban is applied first, so Bob loses his power level change', async () => {
    await expectEndState(
      roomVersion,
      [
        powerLevels('PA', ALICE, { [ALICE]: 100, [BOB]: 50 }),
        member('MA', ALICE, ALICE, 'join'),
        member('MB', ALICE, BOB, 'ban'),
        powerLevels('PB', BOB, { [ALICE]: 100, [BOB]: 50 }),
      ],
      [
        ['END', 'MB', 'MA', 'PA', 'START'],
        ['END', 'PB', 'PA'],
      ],
      ['PA', 'MA', 'MB'],
    );
  });

  it('join rule evasion: a join concurrent with a private join rule is dropped', async () => {
    await expectEndState(
      roomVersion,
      [
        {
          id: 'JR',
          sender: ALICE,
          type: 'm.room.join_rules',
          stateKey: '',
          content: { join_rules: 'private' },
        },
        member('ME', EVELYN, EVELYN, 'join'),
      ],
      [
        ['END', 'JR', 'START'],
        ['END', 'ME', 'START'],
      ],
      ['JR'],
    );
  });

  it('offtopic power levels: a later demotion does not undo the changes before it', async () => {
    await expectEndState(
      roomVersion,
      [
        powerLevels('PA', ALICE, { [ALICE]: 100, [BOB]: 50 }),
        powerLevels('PB', BOB, { [ALICE]: 100, [BOB]: 50, [CHARLIE]: 50 }),
        powerLevels('PC', CHARLIE, { [ALICE]: 100, [BOB]: 50, [CHARLIE]: 0 }),
      ],
      [
        ['END', 'PC', 'PB', 'PA', 'START'],
        ['END', 'PA'],
      ],
      ['PC'],
    );
  });

  it('topic basic: Bob is demoted before his topic, so the earlier topic stays', async () => {
    await expectEndState(
      roomVersion,
      [
        topic('T1', ALICE),
        powerLevels('PA1', ALICE, { [ALICE]: 100, [BOB]: 50 }),
        topic('T2', ALICE),
        powerLevels('PA2', ALICE, { [ALICE]: 100, [BOB]: 0 }),
        powerLevels('PB', BOB, { [ALICE]: 100, [BOB]: 50 }),
        topic('T3', BOB),
      ],
      [
        ['END', 'PA2', 'T2', 'PA1', 'T1', 'START'],
        ['END', 'T3', 'PB', 'PA1'],
      ],
      ['PA2', 'T2'],
    );
  });

  it('topic reset: a ban in one fork does not reset the topic to the other fork', async () => {
    await expectEndState(
      roomVersion,
      [
        topic('T1', ALICE),
        powerLevels('PA', ALICE, { [ALICE]: 100, [BOB]: 50 }),
        topic('T2', BOB),
        member('MB', ALICE, BOB, 'ban'),
      ],
      [
        ['END', 'MB', 'T2', 'PA', 'T1', 'START'],
        ['END', 'T1'],
      ],
      ['T1', 'MB', 'PA'],
    );
  });

  it('topic: a message between forks does not stop the later topic from winning', async () => {
    await expectEndState(
      roomVersion,
      [
        topic('T1', ALICE),
        powerLevels('PA1', ALICE, { [ALICE]: 100, [BOB]: 50 }),
        topic('T2', ALICE),
        powerLevels('PA2', ALICE, { [ALICE]: 100, [BOB]: 0 }),
        powerLevels('PB', BOB, { [ALICE]: 100, [BOB]: 50 }),
        topic('T3', BOB),
        { id: 'MZ1', sender: ZARA, type: 'm.room.message', content: {} },
        topic('T4', ALICE),
      ],
      [
        ['END', 'T4', 'MZ1', 'PA2', 'T2', 'PA1', 'T1', 'START'],
        ['END', 'MZ1', 'T3', 'PB', 'PA1'],
      ],
      ['T4', 'PA2'],
    );
  });

  it('mainline sort: the topic on the newer power levels wins over a later one on older', async () => {
    // Without mainline ordering T4 would win, being sent after T3.
    await expectEndState(
      roomVersion,
      [
        topic('T1', ALICE),
        powerLevels('PA1', ALICE, { [ALICE]: 100, [BOB]: 50 }),
        topic('T2', ALICE),
        powerLevels(
          'PA2',
          ALICE,
          { [ALICE]: 100, [BOB]: 50 },
          { events: { 'm.room.power_levels': 100 } },
        ),
        powerLevels('PB', BOB, { [ALICE]: 100, [BOB]: 50 }),
        topic('T3', BOB),
        topic('T4', ALICE),
      ],
      [
        ['END', 'T3', 'PA2', 'T2', 'PA1', 'T1', 'START'],
        ['END', 'T4', 'PB', 'PA1'],
      ],
      ['T3', 'PA2'],
    );
  });

  it('conflicting membership with an auth chain difference: the ban beats leave-and-rejoin', async () => {
    const graph = await expectEndState(
      roomVersion,
      [
        member('ZL', ZARA, ZARA, 'leave'),
        member('ZJ', ZARA, ZARA, 'join'),
        member('ZBAN', ALICE, ZARA, 'ban'),
      ],
      [
        ['END', 'ZJ', 'ZL', 'START'],
        ['END', 'ZBAN', 'START'],
      ],
      ['ZBAN'],
    );
    // Zara's leave is in the rejoin's auth chain only: the auth difference brings it in.
    const difference = await authChainDifference(
      [graph.stateAt('ZJ'), graph.stateAt('ZBAN')],
      graph.fetch,
    );
    expect([...difference]).toEqual([eventIdOf('ZL')]);
  });

  it('concurrent joins: both members are in the resolved state', async () => {
    await expectEndState(
      roomVersion,
      [member('ME', EVELYN, EVELYN, 'join'), member('MZL', ZARA, ZARA, 'leave')],
      [
        ['END', 'ME', 'START'],
        ['END', 'MZL', 'START'],
      ],
      ['ME', 'MZL'],
    );
  });

  it('resolves the same states to the same result whatever their order', async () => {
    const graph = await EventGraph.build(
      roomVersion,
      [
        topic('T1', ALICE),
        powerLevels('PA', ALICE, { [ALICE]: 100, [BOB]: 50 }),
        topic('T2', BOB),
        member('MB', ALICE, BOB, 'ban'),
      ],
      [
        ['END', 'MB', 'T2', 'PA', 'T1', 'START'],
        ['END', 'T1'],
      ],
    );
    const states = [graph.stateAt('MB'), graph.stateAt('T1')];
    const forward = await resolveState(roomVersion, states, graph.fetch);
    const backward = await resolveState(roomVersion, [...states].reverse(), graph.fetch);
    expect(backward).toEqual(forward);
    const { fetchAuthEventIds } = graph;
    for (const order of [states, [...states].reverse()]) {
      expect(await resolveState(roomVersion, order, graph.fetch, { fetchAuthEventIds })).toEqual(
        forward,
      );
    }
  });
});
