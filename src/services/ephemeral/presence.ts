import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import { forbidden, notFound } from '../../core/errors.js';
import { selectUser } from '../../storage/accounts/users.js';
import {
  selectPresence,
  selectPresenceBetween,
  upsertPresence,
  type PresenceRecord,
} from '../../storage/ephemeral/presence.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import { Listeners } from '../listeners.js';
import type { MembershipLookup } from './membership-lookup.js';

export const PRESENCE_STATES = ['online', 'unavailable', 'offline'] as const;
export type PresenceState = (typeof PRESENCE_STATES)[number];

/** Synapse's limit on status messages. */
export const MAX_STATUS_MSG_LENGTH = 1024;

/** A user's presence changed; `audience` is everyone who may see it (the user included). */
export interface PresenceChange {
  readonly userId: string;
  readonly position: number;
  readonly audience: readonly string[];
}

/** The body of `GET /presence/{userId}/status`. */
export interface PresenceStatus {
  presence: PresenceState;
  last_active_ago?: number;
  status_msg?: string;
  currently_active?: boolean;
}

/** The `m.presence` event of a user, as `/sync` delivers it. */
export interface PresenceEvent {
  readonly type: 'm.presence';
  readonly sender: string;
  readonly content: PresenceStatus & { displayname?: string; avatar_url?: string };
}

/**
 * Users' presence (spec: "Presence") on the tenant's presence stream. Setting a status is
 * activity: it moves the last active time. A user counts as currently active while online.
 * Only users who share a room with someone see their presence. Not here yet: the idle timeout
 * (online → unavailable after some minutes without activity) and activity from `/sync` and sent
 * events, which come with sync.
 */
export class Presence {
  readonly changed: Listeners<PresenceChange>;

  constructor(
    private readonly db: TenantDatabase,
    private readonly clock: Clock,
    private readonly serverName: string,
    private readonly memberships: MembershipLookup,
    logger: Logger,
  ) {
    this.changed = new Listeners(logger, 'presence changed');
  }

  /**
   * `PUT /presence/{userId}/status` for the caller. An omitted or null `statusMsg` clears it.
   * When only the activity time moves (same state and message), the presence stream does not
   * advance: clients see `currently_active` or compute from `last_active_ago` instead.
   */
  async setPresence(
    userId: string,
    presence: PresenceState,
    statusMsg: string | null | undefined,
  ): Promise<void> {
    const now = this.clock.now();
    const next = {
      userId,
      presence,
      statusMsg: statusMsg ?? null,
      lastActiveTs: now,
      currentlyActive: presence === 'online',
    };
    const result = await this.db.transact(async (trx) => {
      // PostgreSQL runs writers concurrently: lock the row we compare against.
      const previous = await selectPresence(trx, userId, {
        forUpdate: this.db.dialect === 'postgres',
      });
      const changed =
        previous === undefined ||
        previous.presence !== next.presence ||
        previous.statusMsg !== next.statusMsg ||
        previous.currentlyActive !== next.currentlyActive;
      const position = await upsertPresence(trx, next, previous?.streamId, changed);
      return { changed, position };
    });
    if (!result.changed) return;
    const audience = await this.#audienceOf(userId);
    await this.changed.emit({ userId, position: result.position, audience });
  }

  /**
   * `GET /presence/{userId}/status`: 404 M_NOT_FOUND for a user this server does not have;
   * 403 M_FORBIDDEN unless the viewer is the user or shares a room with them.
   */
  async getPresence(viewerId: string, userId: string): Promise<PresenceStatus> {
    const { record, exists } = await this.db.read(async (db) => {
      if (!isLocal(userId, this.serverName)) return { record: undefined, exists: false };
      const user = await selectUser(db, userId);
      return { record: await selectPresence(db, userId), exists: user !== undefined };
    });
    if (!exists) throw notFound('Unknown user');
    if (viewerId !== userId && !(await this.memberships.shareARoom(viewerId, userId))) {
      throw forbidden('You are not allowed to see their presence');
    }
    return record === undefined ? { presence: 'offline' } : this.#statusOf(record);
  }

  /**
   * For `/sync`: the `m.presence` events of the users `userId` shares a room with (and their
   * own) whose presence changed at positions in (`from`, `to`], oldest first.
   */
  async changesBetween(userId: string, from: number, to: number): Promise<PresenceEvent[]> {
    if (to <= from) return [];
    const audience = new Set(await this.memberships.usersSharingRoomWith(userId));
    audience.add(userId);
    const records = await this.db.read((db) => selectPresenceBetween(db, [...audience], from, to));
    return records.map((record) => {
      const content: PresenceEvent['content'] = this.#statusOf(record);
      if (record.displayname !== null) content.displayname = record.displayname;
      if (record.avatarUrl !== null) content.avatar_url = record.avatarUrl;
      return { type: 'm.presence', sender: record.userId, content };
    });
  }

  async #audienceOf(userId: string): Promise<string[]> {
    const users = new Set(await this.memberships.usersSharingRoomWith(userId));
    users.add(userId);
    return [...users];
  }

  #statusOf(record: PresenceRecord): PresenceStatus {
    const status: PresenceStatus = {
      presence: toState(record.presence),
      last_active_ago: Math.max(0, this.clock.now() - record.lastActiveTs),
      currently_active: record.currentlyActive,
    };
    if (record.statusMsg !== null) status.status_msg = record.statusMsg;
    return status;
  }
}

function toState(value: string): PresenceState {
  return (PRESENCE_STATES as readonly string[]).includes(value)
    ? (value as PresenceState)
    : 'offline';
}

function isLocal(userId: string, serverName: string): boolean {
  return userId.slice(userId.indexOf(':') + 1) === serverName;
}
