import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import { forbidden, notFound } from '../../core/errors.js';
import { selectUser } from '../../storage/accounts/users.js';
import {
  selectPresence,
  selectPresenceBetween,
  selectPresenceNotOffline,
  upsertPresence,
  type PresenceRecord,
} from '../../storage/ephemeral/presence.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import { Listeners } from '../listeners.js';
import type { MembershipLookup } from './membership-lookup.js';
import {
  DEFAULT_ACTIVITY_CAPACITY,
  LAST_ACTIVE_GRANULARITY_MS,
  PresenceActivity,
  type PresenceSnapshot,
  type StoredPresence,
} from './presence-activity.js';

export const PRESENCE_STATES = ['online', 'unavailable', 'offline'] as const;
export type PresenceState = (typeof PRESENCE_STATES)[number];

/** Synapse's limit on status messages. */
export const MAX_STATUS_MSG_LENGTH = 1024;

/** How often the tenant looks for users who timed out (Synapse: every 5 s). */
export const PRESENCE_SWEEP_INTERVAL_MS = 5_000;

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

export interface PresenceOptions {
  /** Users whose activity the instance remembers (least recently seen forgotten first). */
  readonly capacity?: number;
}

/**
 * Users' presence (spec: "Presence") on the tenant's presence stream, driven by what they do:
 * syncing (`set_presence`, online when omitted; `offline` changes nothing), `PUT /presence` and
 * sending events, with Synapse's timeouts (online → unavailable after 5 minutes without
 * activity; offline 30 s after the last sync ended). The rules are `PresenceActivity`'s; this
 * class loads and stores rows, announces changes and runs the per-tenant sweep that applies
 * the timeouts.
 *
 * The instance's memory is the truth, the `presence` table its copy: a user's row is read once
 * per instance, then a sync of a user whose presence does not change touches no database; the
 * row is written when clients must hear about a change (the stream advances, `changed` fires),
 * and otherwise at most once a minute for a moving last active time (by the sweep). A new
 * instance takes over users stored as not offline on its first sweep, so that they time out.
 * Only users who share a room with someone see their presence.
 */
export class Presence {
  readonly changed: Listeners<PresenceChange>;
  readonly #activity: PresenceActivity;
  /** Rows being read, by user, so that concurrent requests read each once. */
  readonly #loading = new Map<string, Promise<void>>();
  /** Each user's writes, one after another. */
  readonly #writing = new Map<string, Promise<void>>();
  #sweeps: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #restored = false;
  #stopped = false;

  constructor(
    private readonly db: TenantDatabase,
    private readonly clock: Clock,
    private readonly serverName: string,
    private readonly memberships: MembershipLookup,
    private readonly logger: Logger,
    options: PresenceOptions = {},
  ) {
    this.changed = new Listeners(logger, 'presence changed');
    this.#activity = new PresenceActivity(clock, options.capacity ?? DEFAULT_ACTIVITY_CAPACITY);
  }

  /**
   * A `/sync` of `userId` from `deviceId` starts; call the returned function when it ends.
   * `online` (or omitted) and `unavailable` set the device's presence and count as activity;
   * `offline` leaves presence alone and does not count as syncing (spec: `set_presence`).
   * Memory only, unless the user's row was never read by this instance or their presence changes.
   */
  async syncing(
    userId: string,
    deviceId: string | undefined,
    setPresence: PresenceState = 'online',
  ): Promise<() => void> {
    if (setPresence === 'offline') return () => undefined;
    await this.#load(userId);
    const device = deviceId ?? '';
    this.#activity.syncStarted(userId, device, setPresence);
    const ended = () => this.#activity.syncEnded(userId, device);
    try {
      await this.#flush(userId, Infinity);
    } catch (error) {
      ended();
      throw error;
    }
    return ended;
  }

  /**
   * `PUT /presence/{userId}/status` for the caller, from `deviceId`. An omitted or null
   * `statusMsg` clears it. When only the activity time moves (same state, message and
   * `currently_active`), the presence stream does not advance: clients keep considering the user
   * active (spec: "Last active ago").
   */
  async setPresence(
    userId: string,
    presence: PresenceState,
    statusMsg: string | null | undefined,
    deviceId = '',
  ): Promise<void> {
    await this.#load(userId);
    this.#activity.setByUser(userId, deviceId, presence, statusMsg ?? null);
    await this.#flush(userId, 0);
  }

  /** The user did something (sent an event): active now, and online again if unavailable. */
  async activeNow(userId: string): Promise<void> {
    if (!isLocal(userId, this.serverName)) return;
    await this.#load(userId);
    this.#activity.active(userId);
    await this.#flush(userId, Infinity);
  }

  /**
   * The presence of a user of another server, as their server sent it (`m.presence`): stored
   * and announced as it is, never timed out here.
   */
  async receiveRemote(
    userId: string,
    update: {
      presence: PresenceState;
      statusMsg: string | null;
      lastActiveAgo: number;
      currentlyActive: boolean;
    },
  ): Promise<void> {
    if (isLocal(userId, this.serverName) || this.#stopped) return;
    const lastActiveTs = this.clock.now() - Math.max(0, update.lastActiveAgo);
    const position = await this.db.transact(async (trx) => {
      const previous = await selectPresence(trx, userId, {
        forUpdate: this.db.dialect === 'postgres',
      });
      const state = {
        userId,
        presence: update.presence,
        statusMsg: update.statusMsg,
        lastActiveTs,
        currentlyActive: update.currentlyActive,
      };
      return upsertPresence(trx, state, previous?.streamId, true);
    });
    await this.changed.emit({ userId, position, audience: await this.#audienceOf(userId) });
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
    if (record === undefined) return { presence: 'offline' };
    // What this instance knows may be newer than the row (a last active time not stored yet).
    return this.#statusOf(this.#activity.current(userId) ?? toSnapshot(record));
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
      // The state the stream announced, with the last active time as this instance knows it.
      const snapshot = toSnapshot(record);
      const known = this.#activity.current(record.userId);
      const lastActiveTs = Math.max(snapshot.lastActiveTs, known?.lastActiveTs ?? 0);
      const content: PresenceEvent['content'] = this.#statusOf({ ...snapshot, lastActiveTs });
      if (record.displayname !== null) content.displayname = record.displayname;
      if (record.avatarUrl !== null) content.avatar_url = record.avatarUrl;
      return { type: 'm.presence', sender: record.userId, content };
    });
  }

  /** Sweeps every `intervalMs` until `stop()`; the timer does not keep the process alive. */
  startSweeping(intervalMs = PRESENCE_SWEEP_INTERVAL_MS): void {
    if (this.#timer !== undefined || this.#stopped) return;
    this.#timer = setInterval(() => {
      // A failed sweep is logged by `sweep`; the next one tries again.
      this.sweep().catch(() => undefined);
    }, intervalMs);
    this.#timer.unref();
  }

  /**
   * Applies the timeouts now (the timer calls it; tests too) and writes what is due: changes
   * clients must hear about, and last active times a minute or more behind. Touches no database
   * when nothing is due, apart from taking over the stored users on the instance's first sweep.
   */
  sweep(): Promise<void> {
    const run = this.#sweeps.then(() => this.#sweepOnce());
    this.#sweeps = run.catch((error: unknown) => {
      this.logger.error({ err: error }, 'presence sweep failed');
    });
    return run;
  }

  /** Stops the sweeps and waits for the one in progress (the tenant is stopping). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#sweeps;
  }

  async #sweepOnce(): Promise<void> {
    if (this.#stopped) return;
    if (!this.#restored) {
      this.#restored = true;
      await this.#restore();
    }
    const { checked, forgotten } = this.#activity.checkTimeouts();
    // Forgotten while online: read their row again, so that they time out from now on.
    for (const userId of forgotten) await this.#load(userId);
    for (const userId of checked) {
      if (this.#stopped) return;
      try {
        await this.#flush(userId, LAST_ACTIVE_GRANULARITY_MS);
      } catch (error) {
        // The user stays due: the next sweep tries again.
        this.logger.error({ err: error, user_id: userId }, 'presence write failed');
      }
    }
  }

  /** Takes over the users stored as not offline (by an earlier instance). */
  async #restore(): Promise<void> {
    const records = await this.db.read((db) =>
      selectPresenceNotOffline(db, DEFAULT_ACTIVITY_CAPACITY),
    );
    for (const record of records) {
      // Users of other servers are timed out by their own server, which tells us (federation).
      if (isLocal(record.userId, this.serverName)) {
        this.#activity.remember(record.userId, toStored(record));
      }
    }
  }

  /** Makes sure the user's row is known: nothing to do (no promise) once it is. */
  #load(userId: string): Promise<void> | undefined {
    if (this.#activity.has(userId)) return undefined;
    let loading = this.#loading.get(userId);
    if (loading === undefined) {
      loading = this.db
        .read((db) => selectPresence(db, userId))
        .then((record) => {
          this.#activity.remember(userId, record === undefined ? undefined : toStored(record));
        })
        .finally(() => this.#loading.delete(userId));
      this.#loading.set(userId, loading);
    }
    return loading;
  }

  /**
   * Writes what `pendingWrite` asks for (see there for `lastActiveStepMs`), after the user's
   * writes in progress; nothing to do (no promise) when nothing is pending.
   */
  #flush(userId: string, lastActiveStepMs: number): Promise<void> | undefined {
    if (this.#activity.pendingWrite(userId, lastActiveStepMs) === undefined) return undefined;
    const previous = this.#writing.get(userId) ?? Promise.resolve();
    const write = previous.catch(() => undefined).then(() => this.#write(userId, lastActiveStepMs));
    const tracked = write.finally(() => {
      if (this.#writing.get(userId) === tracked) this.#writing.delete(userId);
    });
    this.#writing.set(userId, tracked);
    return tracked;
  }

  async #write(userId: string, lastActiveStepMs: number): Promise<void> {
    // Decided again now: an earlier write may have stored it already.
    const pending = this.#activity.pendingWrite(userId, lastActiveStepMs);
    if (pending === undefined) return;
    const { next, previousStreamId, advance } = pending;
    const position = await this.db.transact((trx) =>
      upsertPresence(trx, { userId, ...next }, previousStreamId, advance),
    );
    this.#activity.stored(userId, next, position);
    if (!advance) return;
    const audience = await this.#audienceOf(userId);
    await this.changed.emit({ userId, position, audience });
  }

  async #audienceOf(userId: string): Promise<string[]> {
    const users = new Set(await this.memberships.usersSharingRoomWith(userId));
    users.add(userId);
    return [...users];
  }

  #statusOf(snapshot: PresenceSnapshot): PresenceStatus {
    const status: PresenceStatus = { presence: snapshot.presence };
    // Never active (e.g. only ever set unavailable): no last active time to tell.
    if (snapshot.lastActiveTs > 0) {
      status.last_active_ago = Math.max(0, this.clock.now() - snapshot.lastActiveTs);
    }
    status.currently_active = snapshot.currentlyActive;
    if (snapshot.statusMsg !== null) status.status_msg = snapshot.statusMsg;
    return status;
  }
}

function toSnapshot(record: PresenceRecord): PresenceSnapshot {
  return {
    presence: toState(record.presence),
    statusMsg: record.statusMsg,
    lastActiveTs: record.lastActiveTs,
    currentlyActive: record.currentlyActive,
  };
}

function toStored(record: PresenceRecord): StoredPresence {
  return { ...toSnapshot(record), streamId: record.streamId };
}

function toState(value: string): PresenceState {
  return (PRESENCE_STATES as readonly string[]).includes(value)
    ? (value as PresenceState)
    : 'offline';
}

function isLocal(userId: string, serverName: string): boolean {
  return userId.slice(userId.indexOf(':') + 1) === serverName;
}
