import { describe, expect, it } from 'vitest';
import { stateKeyOf } from '../../protocol/room-event.js';
import { mayHaveRemoteMembers } from './event-fanout.js';

const state = (keys: [string, string][]) =>
  new Map(keys.map(([type, stateKey]) => [stateKeyOf(type, stateKey), '$event']));

describe('mayHaveRemoteMembers', () => {
  it('is false when every member event names a user of this server', () => {
    const local = state([
      ['m.room.create', ''],
      ['m.room.member', '@alice:alpha.test'],
      ['m.room.member', '@bob:alpha.test'],
      // Other state keys that look like users of other servers are not members.
      ['m.room.power_levels', ''],
      ['org.example', '@carol:beta.test'],
    ]);
    expect(mayHaveRemoteMembers(local, 'alpha.test')).toBe(false);
    expect(mayHaveRemoteMembers(new Map(), 'alpha.test')).toBe(false);
  });

  it('is true as soon as one member event names a user of another server', () => {
    for (const other of ['@carol:beta.test', '@carol:sub.alpha.test', '@carol:alpha.test:8448']) {
      const mixed = state([
        ['m.room.member', '@alice:alpha.test'],
        ['m.room.member', other],
      ]);
      expect(mayHaveRemoteMembers(mixed, 'alpha.test'), other).toBe(true);
    }
  });
});
