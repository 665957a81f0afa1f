import type { AccountData } from '../account-data/account-data.js';
import type { Presence } from '../ephemeral/presence.js';
import type { Receipts } from '../ephemeral/receipts.js';
import type { Typing } from '../ephemeral/typing.js';
import type { Listeners } from '../listeners.js';
import type { PersistedEvent } from '../rooms/room-events.js';
import type { Notifier } from './notifier.js';

/** The services whose changes move a stream. */
export interface NotifierSources {
  readonly accountData: Pick<AccountData, 'changed'>;
  readonly typing: Pick<Typing, 'changed' | 'stopTyping'>;
  readonly receipts: Pick<Receipts, 'changed'>;
  readonly presence: Pick<Presence, 'changed'>;
  /** Committed room events (the rooms code's `RoomEvents.persisted`). */
  readonly roomEvents: { readonly persisted: Listeners<PersistedEvent> };
}

/**
 * Subscribes the notifier to every change that moves a stream, and says who sees each: room
 * events, public receipts and typing are seen by the room's members; a member event also by
 * its target (an invite or a join reaches a user not in the room yet); account data and
 * private receipts by their owner; presence by the users who share a room with its user.
 * Also ends a user's typing when they leave a room. Returns the function that unsubscribes.
 */
export function connectNotifier(notifier: Notifier, sources: NotifierSources): () => void {
  const unsubscribes = [
    sources.accountData.changed.add((change) => {
      notifier.notify({
        stream: 'account_data',
        position: change.streamId,
        userIds: [change.userId],
      });
    }),
    sources.typing.changed.add((change) => {
      notifier.notify({ stream: 'typing', position: change.position, roomIds: [change.roomId] });
    }),
    sources.receipts.changed.add((change) => {
      notifier.notify(
        change.private
          ? { stream: 'receipts', position: change.position, userIds: [change.userId] }
          : { stream: 'receipts', position: change.position, roomIds: [change.roomId] },
      );
    }),
    sources.presence.changed.add((change) => {
      notifier.notify({ stream: 'presence', position: change.position, userIds: change.audience });
    }),
  ];
  unsubscribes.push(
    sources.roomEvents.persisted.add((event) => {
      const target =
        event.type === 'm.room.member' && event.stateKey !== undefined ? event.stateKey : null;
      notifier.notify({
        stream: 'events',
        position: event.streamOrdering,
        roomIds: [event.roomId],
        userIds: target === null ? [] : [target],
      });
      if (target !== null && event.membership !== 'join') {
        sources.typing.stopTyping(event.roomId, target);
      }
    }),
  );
  return () => {
    for (const unsubscribe of unsubscribes) unsubscribe();
  };
}
