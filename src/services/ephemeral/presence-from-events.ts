import type { Listeners } from '../listeners.js';
import type { PersistedEvent } from '../rooms/room-events.js';
import type { Presence } from './presence.js';

/**
 * Sending an event is activity (spec: "Last active ago"): the sender is active now, and online
 * again if they were unavailable. Remote senders are ignored. Returns the function that
 * unsubscribes.
 */
export function connectPresenceActivity(
  presence: Pick<Presence, 'activeNow'>,
  roomEvents: { readonly persisted: Listeners<PersistedEvent> },
): () => void {
  return roomEvents.persisted.add((event) => presence.activeNow(event.sender));
}
