/**
 * Send-to-device messaging (client-server API "Send-to-Device messaging"): messages a client
 * sends to other clients' devices outside any room. Messages to local devices wait in the
 * to-device inbox until the target device's next sync acknowledges them (see
 * `src/services/sync/to-device-section.ts`). Messages to users of other servers are dropped
 * with a warning: they need federation, which does not exist yet.
 */
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import type { JsonObject } from '../../core/canonical-json.js';
import { invalidParam } from '../../core/errors.js';
import { parseUserId } from '../../core/identifiers.js';
import {
  insertInboxMessages,
  selectDeviceIdsOfUsers,
  type InboxMessage,
} from '../../storage/devices/to-device-inbox.js';
import {
  deleteToDeviceTxnIdsBefore,
  insertToDeviceTxnId,
} from '../../storage/devices/to-device-txn-ids.js';
import { nextStreamPosition } from '../../storage/ephemeral/stream-positions.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import { Listeners } from '../listeners.js';

/** `{userId: {deviceId | "*": content}}`, the `messages` of `/sendToDevice`. */
export type ToDeviceMessages = Readonly<Record<string, Readonly<Record<string, JsonObject>>>>;

/** The device ID that addresses every device of a user. */
export const ALL_DEVICES = '*';

/** Messages committed to local devices: the stream's new position and who received them. */
export interface ToDeviceSent {
  readonly position: number;
  readonly userIds: readonly string[];
}

/**
 * How long a transaction ID is remembered: a retry comes within seconds or minutes; Synapse
 * remembers them for 30 minutes.
 */
const TXN_ID_LIFETIME_MS = 24 * 60 * 60 * 1000;

interface SendOutcome {
  /** The transaction ID was already used: nothing was stored. */
  retry: boolean;
  /** What was stored, if anything. */
  sent?: ToDeviceSent;
}

export class ToDevice {
  readonly sent: Listeners<ToDeviceSent>;

  constructor(
    private readonly db: TenantDatabase,
    private readonly clock: Clock,
    private readonly serverName: string,
    private readonly logger: Logger,
  ) {
    this.sent = new Listeners(logger, 'to-device messages sent');
  }

  /**
   * `PUT /sendToDevice/{eventType}/{txnId}`: stores one message per target device (`*`: every
   * device of the user), in one transaction with the transaction ID; a retry with the same ID
   * from the same device stores nothing. Unknown local users and devices are skipped (as
   * Synapse does); a malformed user ID is 400 M_INVALID_PARAM.
   */
  async send(
    sender: { userId: string; deviceId: string },
    eventType: string,
    txnId: string,
    messages: ToDeviceMessages,
  ): Promise<void> {
    const localUserIds: string[] = [];
    let remoteCount = 0;
    for (const [userId, byDevice] of Object.entries(messages)) {
      let serverName: string;
      try {
        serverName = parseUserId(userId).serverName;
      } catch {
        throw invalidParam(`Invalid user ID in messages: ${userId}`);
      }
      if (serverName === this.serverName) localUserIds.push(userId);
      else remoteCount += Object.keys(byDevice).length;
    }

    const now = this.clock.now();
    const key = {
      userId: sender.userId,
      deviceId: sender.deviceId,
      scope: `/sendToDevice/${eventType}`,
      txnId,
    };
    const outcome = await this.db.transact(async (trx): Promise<SendOutcome> => {
      if (!(await insertToDeviceTxnId(trx, key, now))) return { retry: true };
      await deleteToDeviceTxnIdsBefore(
        trx,
        sender.userId,
        sender.deviceId,
        now - TXN_ID_LIFETIME_MS,
      );
      const devicesOf = await selectDeviceIdsOfUsers(trx, localUserIds);
      const targets: Omit<InboxMessage, 'streamId'>[] = [];
      for (const userId of localUserIds) {
        const byDevice = messages[userId] ?? {};
        for (const deviceId of devicesOf.get(userId) ?? []) {
          // A device named explicitly gets its own message rather than the `*` one.
          const content = Object.hasOwn(byDevice, deviceId)
            ? byDevice[deviceId]
            : byDevice[ALL_DEVICES];
          if (content === undefined) continue;
          const json = JSON.stringify(content);
          targets.push({ userId, deviceId, sender: sender.userId, type: eventType, content: json });
        }
      }
      if (targets.length === 0) return { retry: false };
      const streamId = await nextStreamPosition(trx, 'to_device');
      await insertInboxMessages(
        trx,
        targets.map((target) => ({ ...target, streamId })),
      );
      const userIds = [...new Set(targets.map((target) => target.userId))];
      return { retry: false, sent: { position: streamId, userIds } };
    });
    if (outcome.retry) return;
    if (remoteCount > 0) {
      this.logger.warn(
        { count: remoteCount, event_type: eventType },
        'to-device messages for users of other servers dropped: federation is not supported yet',
      );
    }
    if (outcome.sent !== undefined) await this.sent.emit(outcome.sent);
  }
}
