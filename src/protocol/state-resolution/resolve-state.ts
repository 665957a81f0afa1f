/**
 * The state resolution entry point: the state before an event whose `prev_events` lead to several
 * states is the resolution of those states, by the algorithm of the room's version.
 */

import type { StateKey, StateMap } from '../room-event.js';
import type { RoomVersion } from '../room-versions.js';
import type { FetchEvents } from './event-cache.js';
import { resolveStateV1 } from './resolve-v1.js';
import { resolveStateV2 } from './resolve-v2.js';

export type { FetchEvents } from './event-cache.js';

/**
 * Resolves `stateSets` into one state map. `fetchEvents` is called in batches (one call per layer
 * of the auth chain walk) and may leave out events it does not know: those are skipped. The
 * result does not depend on the order of `stateSets` nor of what `fetchEvents` returns.
 */
export async function resolveState(
  roomVersion: RoomVersion,
  stateSets: readonly StateMap[],
  fetchEvents: FetchEvents,
): Promise<Map<StateKey, string>> {
  switch (roomVersion.stateResolution) {
    case 'v1':
      return resolveStateV1(roomVersion, stateSets, fetchEvents);
    case 'v2':
    case 'v2.1':
      return resolveStateV2(roomVersion, stateSets, fetchEvents);
  }
}
