import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AccountDataChange } from '../account-data/account-data.js';
import type { PresenceChange } from '../ephemeral/presence.js';
import type { ReceiptChange } from '../ephemeral/receipts.js';
import type { TypingChange } from '../ephemeral/typing.js';
import { Listeners } from '../listeners.js';
import type { PersistedEvent } from '../rooms/room-events.js';
import { connectNotifier } from './connect-notifier.js';
import { Notifier, type StreamChange } from './notifier.js';

const logger = pino({ level: 'silent' });
const ALICE = '@alice:alpha.test';
const BOB = '@bob:alpha.test';
const ROOM = '!room:alpha.test';

function sources() {
  return {
    accountData: { changed: new Listeners<AccountDataChange>(logger, 'account data') },
    typing: { changed: new Listeners<TypingChange>(logger, 'typing'), stopTyping: vi.fn() },
    receipts: { changed: new Listeners<ReceiptChange>(logger, 'receipts') },
    presence: { changed: new Listeners<PresenceChange>(logger, 'presence') },
    roomEvents: { persisted: new Listeners<PersistedEvent>(logger, 'persisted') },
  };
}

describe('connectNotifier', () => {
  const notifier = new Notifier();
  afterEach(() => vi.restoreAllMocks());

  it('tells the notifier who sees each change', async () => {
    const s = sources();
    const seen: StreamChange[] = [];
    vi.spyOn(notifier, 'notify').mockImplementation((change) => void seen.push(change));
    const disconnect = connectNotifier(notifier, s);

    await s.accountData.changed.emit({ userId: ALICE, roomId: ROOM, type: 'x', streamId: 3 });
    await s.typing.changed.emit({ roomId: ROOM, position: 1000 });
    const receipt = { roomId: ROOM, userId: ALICE, receiptType: 'm.read' as const, position: 4 };
    await s.receipts.changed.emit({ ...receipt, private: false });
    await s.receipts.changed.emit({ ...receipt, receiptType: 'm.read.private', private: true });
    await s.presence.changed.emit({ userId: ALICE, position: 2, audience: [ALICE, BOB] });
    const event = {
      roomId: ROOM,
      eventId: '$e',
      sender: ALICE,
      stateKey: undefined,
      builtHere: true,
    };
    await s.roomEvents.persisted.emit({ ...event, streamOrdering: 7, type: 'm.room.message' });
    await s.roomEvents.persisted.emit({
      ...event,
      streamOrdering: 8,
      type: 'm.room.member',
      stateKey: BOB,
      membership: 'invite',
    });

    expect(seen).toEqual([
      { stream: 'account_data', position: 3, userIds: [ALICE] },
      { stream: 'typing', position: 1000, roomIds: [ROOM] },
      { stream: 'receipts', position: 4, roomIds: [ROOM] },
      { stream: 'receipts', position: 4, userIds: [ALICE] },
      { stream: 'presence', position: 2, userIds: [ALICE, BOB] },
      { stream: 'events', position: 7, roomIds: [ROOM], userIds: [] },
      { stream: 'events', position: 8, roomIds: [ROOM], userIds: [BOB] },
    ]);

    disconnect();
    await s.typing.changed.emit({ roomId: ROOM, position: 1001 });
    expect(seen).toHaveLength(7);
  });

  it('ends the typing of users who leave a room', async () => {
    const s = sources();
    connectNotifier(notifier, s);
    const member = {
      roomId: ROOM,
      eventId: '$m',
      sender: BOB,
      type: 'm.room.member',
      builtHere: true,
    };
    await s.roomEvents.persisted.emit({
      ...member,
      streamOrdering: 1,
      stateKey: BOB,
      membership: 'join',
    });
    expect(s.typing.stopTyping).not.toHaveBeenCalled();
    await s.roomEvents.persisted.emit({
      ...member,
      streamOrdering: 2,
      stateKey: BOB,
      membership: 'leave',
    });
    expect(s.typing.stopTyping).toHaveBeenCalledWith(ROOM, BOB);
  });
});
