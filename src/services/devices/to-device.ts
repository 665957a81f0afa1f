/**
 * Send-to-device messaging (client-server API "Send-to-Device messaging"): messages a client
 * sends to other clients' devices outside any room. Messages to local devices wait in the
 * to-device inbox until the target device's next sync acknowledges them (see
 * `src/services/sync/to-device-section.ts`). Messages to users of other servers are announced
 * on `remoteSent` once the send committed (federation sends them as `m.direct_to_device`), and
 * messages other servers send to local users arrive through `receiveRemote`.
 */
import type { Kysely } from 'kysely';
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
import type { Database } from '../../storage/schema.js';
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

/** Messages of one send for users of other servers, by server name. */
export interface RemoteToDeviceMessages {
  readonly sender: string;
  readonly type: string;
  readonly byServer: ReadonlyMap<string, ToDeviceMessages>;
}

/** The scope under which message IDs of `m.direct_to_device` EDUs are remembered. */
const REMOTE_SCOPE = 'm.direct_to_device';

interface SendOutcome {
  /** The transaction ID was already used: nothing was stored. */
  retry: boolean;
  /** What was stored, if anything. */
  sent?: ToDeviceSent;
}

export class ToDevice {
  readonly sent: Listeners<ToDeviceSent>;
  readonly remoteSent: Listeners<RemoteToDeviceMessages>;

  constructor(
    private readonly db: TenantDatabase,
    private readonly clock: Clock,
    private readonly serverName: string,
    private readonly logger: Logger,
  ) {
    this.sent = new Listeners(logger, 'to-device messages sent');
    this.remoteSent = new Listeners(logger, 'to-device messages for other servers');
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
    const byServer = new Map<string, Record<string, Readonly<Record<string, JsonObject>>>>();
    for (const [userId, byDevice] of Object.entries(messages)) {
      let serverName: string;
      try {
        serverName = parseUserId(userId).serverName;
      } catch {
        throw invalidParam(`Invalid user ID in messages: ${userId}`);
      }
      if (serverName === this.serverName) localUserIds.push(userId);
      else {
        const ofServer = byServer.get(serverName) ?? {};
        ofServer[userId] = byDevice;
        byServer.set(serverName, ofServer);
      }
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
      return {
        retry: false,
        sent: await storeLocal(trx, sender.userId, eventType, localUserIds, messages),
      };
    });
    if (outcome.retry) return;
    if (byServer.size > 0) {
      await this.remoteSent.emit({ sender: sender.userId, type: eventType, byServer });
    }
    if (outcome.sent !== undefined) await this.sent.emit(outcome.sent);
  }

  /**
   * Messages from a user of another server (`m.direct_to_device`; the caller checked that the
   * origin speaks for the sender) to local users: stored like local ones, once per `messageId`.
   * Users of other servers among the recipients are ignored.
   */
  async receiveRemote(
    senderId: string,
    eventType: string,
    messageId: string,
    messages: ToDeviceMessages,
  ): Promise<void> {
    const localUserIds = Object.keys(messages).filter((userId) => {
      try {
        return parseUserId(userId).serverName === this.serverName;
      } catch {
        return false;
      }
    });
    if (localUserIds.length === 0) return;
    const now = this.clock.now();
    const key = { userId: senderId, deviceId: '', scope: REMOTE_SCOPE, txnId: messageId };
    const sent = await this.db.transact(async (trx) => {
      if (!(await insertToDeviceTxnId(trx, key, now))) return undefined;
      await deleteToDeviceTxnIdsBefore(trx, senderId, '', now - TXN_ID_LIFETIME_MS);
      return storeLocal(trx, senderId, eventType, localUserIds, messages);
    });
    if (sent !== undefined) await this.sent.emit(sent);
  }
}

/** Stores one message per target device of the local users; undefined when there is none. */
async function storeLocal(
  trx: Kysely<Database>,
  senderId: string,
  eventType: string,
  localUserIds: readonly string[],
  messages: ToDeviceMessages,
): Promise<ToDeviceSent | undefined> {
  const devicesOf = await selectDeviceIdsOfUsers(trx, [...localUserIds]);
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
      targets.push({ userId, deviceId, sender: senderId, type: eventType, content: json });
    }
  }
  if (targets.length === 0) return undefined;
  const streamId = await nextStreamPosition(trx, 'to_device');
  await insertInboxMessages(
    trx,
    targets.map((target) => ({ ...target, streamId })),
  );
  return { position: streamId, userIds: [...new Set(targets.map((target) => target.userId))] };
}
