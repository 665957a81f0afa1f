/**
 * The state resolution entry point: the state before an event whose `prev_events` lead to several
 * states is the resolution of those states, by the algorithm of the room's version.
 */

import type { StateKey, StateMap } from '../room-event.js';
import type { RoomVersion } from '../room-versions.js';
import type { FetchAuthEventIds, FetchEvents } from './event-cache.js';
import { resolveStateV1 } from './resolve-v1.js';
import { resolveStateV2 } from './resolve-v2.js';

export type { FetchAuthEventIds, FetchEvents } from './event-cache.js';

export interface ResolveStateOptions {
  /**
   * The auth event IDs of events, in batches (v2 and v2.1): the auth chains of the states are
   * then walked over IDs alone, and `fetchEvents` loads only the few hundred events the
   * algorithm reads, rather than every event of the states' auth chains. It must know the same
   * events as `fetchEvents`. The result is the same with or without it.
   */
  readonly fetchAuthEventIds?: FetchAuthEventIds;
}

/**
 * Resolves `stateSets` into one state map. `fetchEvents` (and `fetchAuthEventIds`) are called in
 * batches (one call per layer of the auth chain walk) and may leave out events they do not know:
 * those are skipped. The result does not depend on the order of `stateSets` nor of what the
 * callbacks return.
 */
export async function resolveState(
  roomVersion: RoomVersion,
  stateSets: readonly StateMap[],
  fetchEvents: FetchEvents,
  options: ResolveStateOptions = {},
): Promise<Map<StateKey, string>> {
  switch (roomVersion.stateResolution) {
    case 'v1':
      return resolveStateV1(roomVersion, stateSets, fetchEvents);
    case 'v2':
    case 'v2.1':
      return resolveStateV2(roomVersion, stateSets, fetchEvents, options.fetchAuthEventIds);
  }
}
