/**
 * Events local users send: messages (`PUT /send`, idempotent per device and transaction ID),
 * state (`PUT /state`) and redactions (`PUT /redact`, and `m.room.redaction` through `/send`).
 */

import type { JsonObject } from '../../core/canonical-json.js';
import { forbidden, invalidParam, notFound } from '../../core/errors.js';
import { isValidUserId, parseUserId } from '../../core/identifiers.js';
import type { RoomGraph } from '../room-graph/room-graph.js';
import { checkEventContent } from './event-content.js';
import type { EventDraft } from './event-builder.js';
import type { RoomAliases } from './room-aliases.js';
import type { RoomEvents } from './room-events.js';

/** Who sends, from which device, and whether they are a server admin. */
export interface Sender {
  readonly userId: string;
  readonly deviceId: string;
  readonly isAdmin: boolean;
}

export class RoomMessages {
  constructor(
    private readonly graph: RoomGraph,
    private readonly events: RoomEvents,
    private readonly aliases: RoomAliases,
    private readonly serverName: string,
  ) {}

  /** `PUT /rooms/{roomId}/send/{eventType}/{txnId}`; returns the event ID. */
  async send(
    sender: Sender,
    roomId: string,
    type: string,
    txnId: string,
    content: JsonObject,
  ): Promise<string> {
    if (type === 'm.room.redaction') {
      const redacts = content.redacts;
      if (typeof redacts !== 'string') throw invalidParam('m.room.redaction needs content.redacts');
      const { redacts: _redacts, ...rest } = content;
      return this.redact(sender, roomId, redacts, txnId, rest, `/rooms/${roomId}/send/${type}`);
    }
    const sent = await this.events.send(
      roomId,
      { type, sender: sender.userId, content },
      {
        txn: {
          userId: sender.userId,
          deviceId: sender.deviceId,
          scope: `/rooms/${roomId}/send/${type}`,
          txnId,
        },
      },
    );
    return sent.eventId;
  }

  /** `PUT /rooms/{roomId}/state/{eventType}/{stateKey}`; returns the event ID. */
  async setState(
    sender: Sender,
    roomId: string,
    type: string,
    stateKey: string,
    content: JsonObject,
  ): Promise<string> {
    if (type === 'm.room.redaction') throw invalidParam('Redactions are not state events');
    if (type === 'm.room.member' && isValidUserId(stateKey)) {
      if (content.membership === 'invite' && parseUserId(stateKey).serverName !== this.serverName) {
        throw forbidden(
          `Cannot invite ${stateKey} with a state event: invite users of other servers with POST /rooms/{roomId}/invite`,
        );
      }
    }
    const draft: EventDraft = { type, stateKey, sender: sender.userId, content };
    await this.events.requireRoomVersion(roomId);
    const sent = await this.events.send(roomId, async (state) => {
      await checkEventContent(draft, {
        roomId,
        currentCanonicalAlias: await state.content('m.room.canonical_alias'),
        resolveAlias: (alias) => this.aliases.lookup(alias),
      });
      return draft;
    });
    return sent.eventId;
  }

  /**
   * Redacts an event of the room. Anyone who may send `m.room.redaction` may redact their own
   * events; others' events need the `redact` level, except that server admins may redact local
   * users' events. 404 M_NOT_FOUND for an event this server does not have in the room.
   */
  async redact(
    sender: Sender,
    roomId: string,
    eventId: string,
    txnId: string,
    extra: JsonObject = {},
    scope = `/rooms/${roomId}/redact/${eventId}`,
  ): Promise<string> {
    const version = await this.events.requireRoomVersion(roomId);
    const target = await this.graph.getEvent(eventId);
    if (target === undefined || target.roomId !== roomId) throw notFound('Event not found');
    const content: JsonObject = { ...extra };
    if (version.redactsInContent) content.redacts = eventId;
    const sent = await this.events.send(
      roomId,
      async (state) => {
        if (target.sender !== sender.userId) {
          const levels = await state.powerLevels();
          const mayRedactOthers = levels.userLevel(sender.userId) >= levels.named('redact');
          const adminOfTarget =
            sender.isAdmin && parseUserId(target.sender).serverName === this.serverName;
          if (!mayRedactOthers && !adminOfTarget) {
            throw forbidden("You don't have permission to redact other users' events");
          }
        }
        return {
          type: 'm.room.redaction',
          sender: sender.userId,
          content,
          ...(version.redactsInContent ? {} : { redacts: eventId }),
        };
      },
      { txn: { userId: sender.userId, deviceId: sender.deviceId, scope, txnId } },
    );
    return sent.eventId;
  }
}
