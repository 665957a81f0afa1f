/**
 * The EDUs other servers send in their transactions, fed to the local services so that `/sync`
 * shows them: `m.typing`, `m.receipt`, `m.presence`, `m.device_list_update`,
 * `m.signing_key_update`, `m.direct_to_device`. A server speaks only for its own users (the
 * user's server must be the origin), and typing and receipts count only from users joined to the
 * room as this server sees it. Malformed or unauthorised parts are dropped and logged: an EDU never
 * fails the transaction that carried it (spec: EDUs have no answer).
 */
import type { Logger } from 'pino';
import type { JsonObject, JsonValue } from '../../core/canonical-json.js';
import type { DeviceLists } from '../devices/device-lists.js';
import type { ToDevice, ToDeviceMessages } from '../devices/to-device.js';
import type { MembershipLookup } from '../ephemeral/membership-lookup.js';
import { PRESENCE_STATES, type Presence, type PresenceState } from '../ephemeral/presence.js';
import type { Receipts } from '../ephemeral/receipts.js';
import { MAX_TYPING_TIMEOUT_MS, type Typing } from '../ephemeral/typing.js';
import { serverOfUser } from './event-fanout.js';

/** An EDU as a transaction carries it. */
export interface InboundEdu {
  readonly edu_type: string;
  readonly content: JsonValue;
}

export interface InboundEdusDeps {
  readonly typing: Pick<Typing, 'startTyping' | 'stopTyping'>;
  readonly receipts: Pick<Receipts, 'receiveRemote'>;
  readonly presence: Pick<Presence, 'receiveRemote'>;
  readonly deviceLists: Pick<DeviceLists, 'markChanged'>;
  readonly toDevice: Pick<ToDevice, 'receiveRemote'>;
  readonly memberships: Pick<MembershipLookup, 'isJoined'>;
  readonly clock: { now(): number };
  readonly logger: Logger;
}

export class InboundEdus {
  constructor(private readonly deps: InboundEdusDeps) {}

  /** Applies one EDU from `origin`; never throws. */
  async handle(origin: string, edu: InboundEdu | JsonObject): Promise<void> {
    try {
      if (typeof edu.edu_type !== 'string') throw new EduRefused('edu_type missing');
      const content = asObject(edu.content);
      if (content === undefined) throw new EduRefused('content is not an object');
      switch (edu.edu_type) {
        case 'm.typing':
          return await this.#typing(origin, content);
        case 'm.receipt':
          return await this.#receipts(origin, content);
        case 'm.presence':
          return await this.#presence(origin, content);
        case 'm.device_list_update':
        case 'm.signing_key_update':
          return await this.#deviceList(origin, content);
        case 'm.direct_to_device':
          return await this.#toDevice(origin, content);
        default:
          // Unknown EDU types are ignored (spec).
          return;
      }
    } catch (error) {
      const reason = error instanceof EduRefused ? error.message : undefined;
      if (reason !== undefined) {
        this.deps.logger.info({ origin, edu_type: edu.edu_type, reason }, 'EDU dropped');
      } else {
        this.deps.logger.warn({ err: error, origin, edu_type: edu.edu_type }, 'EDU failed');
      }
    }
  }

  async #typing(origin: string, content: JsonObject): Promise<void> {
    const { room_id: roomId, user_id: userId, typing } = content;
    if (typeof roomId !== 'string' || typeof userId !== 'string' || typeof typing !== 'boolean') {
      throw new EduRefused('m.typing needs room_id, user_id and typing');
    }
    await this.#requireJoined(origin, roomId, userId);
    if (typing) this.deps.typing.startTyping(roomId, userId, MAX_TYPING_TIMEOUT_MS);
    else this.deps.typing.stopTyping(roomId, userId);
  }

  async #receipts(origin: string, content: JsonObject): Promise<void> {
    for (const [roomId, byType] of Object.entries(content)) {
      const read = asObject(asObject(byType)?.['m.read']);
      if (read === undefined) continue;
      for (const [userId, receiptValue] of Object.entries(read)) {
        const receipt = asObject(receiptValue);
        const eventIds = receipt?.['event_ids'];
        const data = asObject(receipt?.['data']);
        if (!Array.isArray(eventIds) || eventIds.length === 0) continue;
        const eventId = eventIds[eventIds.length - 1];
        if (typeof eventId !== 'string') continue;
        try {
          await this.#requireJoined(origin, roomId, userId);
        } catch (error) {
          if (error instanceof EduRefused) {
            this.deps.logger.info(
              { origin, room_id: roomId, reason: error.message },
              'receipt dropped',
            );
            continue;
          }
          throw error;
        }
        const ts = typeof data?.['ts'] === 'number' ? data['ts'] : this.deps.clock.now();
        const threadId = typeof data?.['thread_id'] === 'string' ? data['thread_id'] : undefined;
        await this.deps.receipts.receiveRemote(roomId, userId, eventId, threadId, ts);
      }
    }
  }

  async #presence(origin: string, content: JsonObject): Promise<void> {
    const push = content['push'];
    if (!Array.isArray(push)) throw new EduRefused('m.presence needs push');
    for (const item of push) {
      const update = asObject(item);
      const userId = update?.['user_id'];
      const presence = update?.['presence'];
      if (typeof userId !== 'string' || serverOfUser(userId) !== origin) continue;
      if (!(PRESENCE_STATES as readonly JsonValue[]).includes(presence ?? null)) continue;
      const statusMsg = update?.['status_msg'];
      const lastActiveAgo = update?.['last_active_ago'];
      await this.deps.presence.receiveRemote(userId, {
        presence: presence as PresenceState,
        statusMsg: typeof statusMsg === 'string' ? statusMsg : null,
        lastActiveAgo: typeof lastActiveAgo === 'number' ? lastActiveAgo : 0,
        currentlyActive: update?.['currently_active'] === true,
      });
    }
  }

  /**
   * A user's devices or cross-signing keys changed: local clients sharing a room with them are
   * told their device list changed, and fetch it again (from the user's server, live).
   */
  async #deviceList(origin: string, content: JsonObject): Promise<void> {
    const userId = content['user_id'];
    if (typeof userId !== 'string') throw new EduRefused('user_id missing');
    if (serverOfUser(userId) !== origin)
      throw new EduRefused(`${origin} cannot speak for ${userId}`);
    await this.deps.deviceLists.markChanged(userId);
  }

  async #toDevice(origin: string, content: JsonObject): Promise<void> {
    const { sender, type, message_id: messageId } = content;
    const messages = asObject(content['messages']);
    if (typeof sender !== 'string' || typeof type !== 'string' || typeof messageId !== 'string') {
      throw new EduRefused('m.direct_to_device needs sender, type and message_id');
    }
    if (messages === undefined) throw new EduRefused('m.direct_to_device needs messages');
    if (serverOfUser(sender) !== origin)
      throw new EduRefused(`${origin} cannot speak for ${sender}`);
    const valid: Record<string, Record<string, JsonObject>> = {};
    for (const [userId, byDevice] of Object.entries(messages)) {
      const devices = asObject(byDevice);
      if (devices === undefined) continue;
      const kept: Record<string, JsonObject> = {};
      for (const [deviceId, message] of Object.entries(devices)) {
        const object = asObject(message);
        if (object !== undefined) kept[deviceId] = object;
      }
      valid[userId] = kept;
    }
    await this.deps.toDevice.receiveRemote(sender, type, messageId, valid as ToDeviceMessages);
  }

  async #requireJoined(origin: string, roomId: string, userId: string): Promise<void> {
    if (serverOfUser(userId) !== origin)
      throw new EduRefused(`${origin} cannot speak for ${userId}`);
    if (!(await this.deps.memberships.isJoined(roomId, userId))) {
      throw new EduRefused(`${userId} is not joined to ${roomId}`);
    }
  }
}

class EduRefused extends Error {}

function asObject(value: JsonValue | undefined): JsonObject | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : undefined;
}
