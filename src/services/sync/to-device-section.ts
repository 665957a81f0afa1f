/**
 * `/sync`'s `to_device` (client-server API "Send-to-Device messaging", "Extensions to /sync"):
 * the messages waiting for the syncing device, oldest first, at most 100 per response. The
 * token a client presents acknowledges every message at or below its `to_device` position:
 * those are deleted. When more messages wait than a response carries, `next_batch` stops at
 * the last one delivered, so the next sync returns the rest.
 */
import {
  deleteInboxMessagesUpTo,
  hasInboxMessagesUpTo,
  selectInboxMessages,
} from '../../storage/devices/to-device-inbox.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';

/** The spec's recommended limit of to-device messages per sync response. */
export const MAX_TO_DEVICE_MESSAGES_PER_SYNC = 100;

export interface ToDeviceEvent {
  sender: string;
  type: string;
  content: unknown;
}

export interface ToDeviceSection {
  events: ToDeviceEvent[];
  /** The `to_device` position for `next_batch`. */
  position: number;
}

/**
 * The messages for `device` at positions in (`since`, `upTo`] (`since` undefined: an initial
 * sync, which acknowledges nothing), after deleting those at or below `since`.
 */
export async function toDeviceSection(
  db: TenantDatabase,
  device: { readonly userId: string; readonly deviceId?: string },
  since: number | undefined,
  upTo: number,
): Promise<ToDeviceSection> {
  const { userId, deviceId } = device;
  if (deviceId === undefined) return { events: [], position: upTo };
  const target = { userId, deviceId };
  if (since !== undefined && since > 0) {
    // A read first: most syncs acknowledge nothing, and need no write transaction.
    if (await db.read((reader) => hasInboxMessagesUpTo(reader, target, since))) {
      await db.transact((trx) => deleteInboxMessagesUpTo(trx, target, since));
    }
  }
  const after = since ?? 0;
  if (after >= upTo) return { events: [], position: upTo };
  const messages = await db.read((reader) =>
    selectInboxMessages(reader, target, after, upTo, MAX_TO_DEVICE_MESSAGES_PER_SYNC),
  );
  const last = messages.at(-1);
  return {
    events: messages.map((message) => ({
      sender: message.sender,
      type: message.type,
      content: JSON.parse(message.content) as unknown,
    })),
    position:
      messages.length === MAX_TO_DEVICE_MESSAGES_PER_SYNC && last !== undefined
        ? last.streamId
        : upTo,
  };
}
