/**
 * What one tenant instance knows of its users' activity, in memory only, and the presence it
 * derives from it, after Synapse's presence handler (spec: "Presence", "Idle timeout"):
 *
 * - each device has its own state: a sync sets it (`set_presence`, online when omitted), as does
 *   `PUT /presence`; the user's state is the "highest" of their devices' (online > unavailable >
 *   offline), so a phone syncing as unavailable does not fight a desktop syncing as online;
 * - a sync start, `PUT /presence` and activity (a sent event) make a device active; activity
 *   also brings unavailable devices back online. The user's last active time moves when the
 *   result is online (or on activity), and they are `currently_active` while online and active
 *   within the last minute;
 * - a device that is online without activity for 5 minutes becomes unavailable; a device with no
 *   sync in progress whose last sync and last activity are over 30 s old is forgotten, and a
 *   user with no device left is offline. An offline user has no timeouts: an explicit offline
 *   stays until the user syncs (without `set_presence=offline`) or sets another state.
 *
 * Alongside, each user's last stored presence row, so that deciding whether anything must be
 * written costs no database read: `pendingWrite` says when the row is stale. It advances the
 * presence stream only for what clients must hear about (`shouldNotify`, Synapse's rules); a
 * last active time that only moved is written at most once per `LAST_ACTIVE_GRANULARITY_MS`.
 *
 * Bounded (least recently used users are forgotten); the owner reloads a forgotten user's row
 * when it meets them again. The clock is read, never waited on: `checkTimeouts` is called by the
 * owner's sweep.
 */

import type { Clock } from '../../core/clock.js';
import { LruCache } from '../room-graph/lru-cache.js';
import type { PresenceState } from './presence.js';

/** A user whose last sync ended longer ago than this, with none in progress, goes offline. */
export const SYNC_ONLINE_TIMEOUT_MS = 30_000;
/** An online user inactive for this long becomes unavailable. */
export const IDLE_TIMER_MS = 5 * 60_000;
/** Active within this long: `currently_active`; and how stale a stored last active time may be. */
export const LAST_ACTIVE_GRANULARITY_MS = 60_000;
/** Users remembered per tenant instance. */
export const DEFAULT_ACTIVITY_CAPACITY = 10_000;

/** A user's presence as the `presence` row holds it. */
export interface PresenceSnapshot {
  readonly presence: PresenceState;
  readonly statusMsg: string | null;
  readonly lastActiveTs: number;
  readonly currentlyActive: boolean;
}

/** A stored row, with its position on the presence stream. */
export interface StoredPresence extends PresenceSnapshot {
  readonly streamId: number;
}

/** What to write so that the stored row matches what the instance knows. */
export interface PendingWrite {
  readonly next: PresenceSnapshot;
  /** Undefined: the user has no row yet. */
  readonly previousStreamId: number | undefined;
  /** Whether clients must hear about it (the row takes a new stream position). */
  readonly advance: boolean;
}

/** A user who never had presence: offline, never active. */
const NEVER_SEEN: PresenceSnapshot = {
  presence: 'offline',
  statusMsg: null,
  lastActiveTs: 0,
  currentlyActive: false,
};

/** The device standing for the clients of a user known from their stored row (pseudo-device). */
const RESTORED_DEVICE = '';

const PRIORITY: Record<PresenceState, number> = { offline: 1, unavailable: 2, online: 3 };

interface DeviceActivity {
  state: PresenceState;
  lastActiveTs: number;
  /** When the device's last sync started or ended; 0: never synced. */
  lastSyncTs: number;
  /** Syncs in progress (long-polls included). */
  syncs: number;
}

interface UserActivity {
  current: PresenceSnapshot;
  stored: StoredPresence | undefined;
  readonly devices: Map<string, DeviceActivity>;
}

export class PresenceActivity {
  readonly #users: LruCache<string, UserActivity>;
  /** Users that are not offline: the only ones with timeouts. */
  readonly #watched = new Set<string>();

  constructor(
    private readonly clock: Clock,
    capacity = DEFAULT_ACTIVITY_CAPACITY,
  ) {
    this.#users = new LruCache(capacity);
  }

  /** Whether the user's stored row is known (otherwise `remember` it first). */
  has(userId: string): boolean {
    return this.#users.get(userId) !== undefined;
  }

  /**
   * Starts from the user's stored row (undefined: none). A user who is not offline gets a
   * device standing for the clients of before, which times out like any other unless they
   * sync within `SYNC_ONLINE_TIMEOUT_MS`. Does nothing when the user is already known.
   */
  remember(userId: string, stored: StoredPresence | undefined): void {
    if (this.has(userId)) return;
    const devices = new Map<string, DeviceActivity>();
    if (stored !== undefined && stored.presence !== 'offline') {
      devices.set(RESTORED_DEVICE, {
        state: stored.presence,
        lastActiveTs: stored.lastActiveTs,
        lastSyncTs: this.clock.now(),
        syncs: 0,
      });
    }
    const user: UserActivity = { current: stored ?? NEVER_SEEN, stored, devices };
    this.#users.set(userId, user);
    this.#watch(userId, user);
  }

  /** What the instance believes the user's presence is now (undefined: not known). */
  current(userId: string): PresenceSnapshot | undefined {
    return this.#users.peek(userId)?.current;
  }

  /** A sync starts with `set_presence` `online` (or omitted) or `unavailable`. */
  syncStarted(userId: string, deviceId: string, state: 'online' | 'unavailable'): void {
    const user = this.#users.get(userId);
    if (user === undefined) return;
    const now = this.clock.now();
    const device = deviceOf(user, deviceId);
    device.state = state;
    device.lastActiveTs = now;
    device.lastSyncTs = now;
    device.syncs += 1;
    this.#update(userId, user, { active: 'if online' });
  }

  /** A sync started by `syncStarted` ended (answered, timed out or abandoned). */
  syncEnded(userId: string, deviceId: string): void {
    const device = this.#users.peek(userId)?.devices.get(deviceId);
    if (device === undefined) return;
    device.syncs = Math.max(0, device.syncs - 1);
    device.lastSyncTs = this.clock.now();
  }

  /** `PUT /presence/{userId}/status` from one of the user's devices; a null message clears it. */
  setByUser(
    userId: string,
    deviceId: string,
    state: PresenceState,
    statusMsg: string | null,
  ): void {
    const user = this.#users.get(userId);
    if (user === undefined) return;
    const device = deviceOf(user, deviceId);
    device.state = state;
    device.lastActiveTs = this.clock.now();
    this.#update(userId, user, { active: 'if online', statusMsg });
  }

  /**
   * The user did something (sent an event): every device of theirs is active, unavailable ones
   * come back online, and the last active time moves whatever the state.
   */
  active(userId: string): void {
    const user = this.#users.get(userId);
    if (user === undefined) return;
    const now = this.clock.now();
    for (const device of user.devices.values()) {
      device.lastActiveTs = now;
      if (device.state === 'unavailable') device.state = 'online';
    }
    this.#update(userId, user, { active: 'yes' });
  }

  /**
   * Applies the idle and sync timeouts to every user who is not offline, and refreshes their
   * `currently_active`. Returns the users checked (for `pendingWrite`) and the users who were
   * forgotten while not offline (their rows need reloading). Memory only.
   */
  checkTimeouts(): { checked: string[]; forgotten: string[] } {
    const now = this.clock.now();
    const checked: string[] = [];
    const forgotten: string[] = [];
    for (const userId of [...this.#watched]) {
      const user = this.#users.peek(userId);
      if (user === undefined) {
        this.#watched.delete(userId);
        forgotten.push(userId);
        continue;
      }
      for (const [deviceId, device] of user.devices) {
        if (device.state === 'online' && now - device.lastActiveTs > IDLE_TIMER_MS) {
          device.state = 'unavailable';
        }
        const lastSeen = Math.max(device.lastSyncTs, device.lastActiveTs);
        if (device.syncs === 0 && now - lastSeen > SYNC_ONLINE_TIMEOUT_MS) {
          user.devices.delete(deviceId);
        }
      }
      this.#update(userId, user, { active: 'no' });
      checked.push(userId);
    }
    return { checked, forgotten };
  }

  /**
   * What to write for the user, if anything: a change clients must hear about; or, when the last
   * active time moved by at least `lastActiveStepMs` (Infinity: never for that alone), the new
   * time without advancing the stream.
   */
  pendingWrite(userId: string, lastActiveStepMs: number): PendingWrite | undefined {
    const user = this.#users.peek(userId);
    if (user === undefined) return undefined;
    const before = user.stored ?? NEVER_SEEN;
    const advance = shouldNotify(before, user.current);
    const moved = user.current.lastActiveTs - before.lastActiveTs;
    if (!advance && (user.stored === undefined || moved <= 0 || moved < lastActiveStepMs)) {
      return undefined;
    }
    return { next: user.current, previousStreamId: user.stored?.streamId, advance };
  }

  /** `next` (from `pendingWrite`) is now the stored row, at `streamId`. */
  stored(userId: string, next: PresenceSnapshot, streamId: number): void {
    const user = this.#users.peek(userId);
    if (user !== undefined) user.stored = { ...next, streamId };
  }

  /** Users with timeouts (not offline). */
  get watchedCount(): number {
    return this.#watched.size;
  }

  /**
   * Derives the user's presence from their devices. `active`: whether this counts as activity
   * (the last active time moves to now): always, only if the result is online, or not at all.
   */
  #update(
    userId: string,
    user: UserActivity,
    changes: { active: 'yes' | 'if online' | 'no'; statusMsg?: string | null },
  ): void {
    const now = this.clock.now();
    const presence = combinedState(user.devices);
    const touched =
      changes.active === 'yes' || (changes.active === 'if online' && presence === 'online');
    const lastActiveTs = touched ? now : user.current.lastActiveTs;
    user.current = {
      presence,
      statusMsg: changes.statusMsg === undefined ? user.current.statusMsg : changes.statusMsg,
      lastActiveTs,
      currentlyActive: presence === 'online' && now - lastActiveTs < LAST_ACTIVE_GRANULARITY_MS,
    };
    this.#watch(userId, user);
  }

  #watch(userId: string, user: UserActivity): void {
    if (user.current.presence === 'offline') this.#watched.delete(userId);
    else this.#watched.add(userId);
  }
}

/**
 * Whether a change must reach clients (Synapse's `should_notify`): another state or message;
 * for an online user, `currently_active` flipping, or the last active time moving while not
 * currently active; for anyone else, the last active time moving by more than the granularity.
 */
export function shouldNotify(before: PresenceSnapshot, after: PresenceSnapshot): boolean {
  if (before.statusMsg !== after.statusMsg || before.presence !== after.presence) return true;
  const moved = after.lastActiveTs - before.lastActiveTs;
  if (before.presence === 'online') {
    if (before.currentlyActive !== after.currentlyActive) return true;
    return moved > LAST_ACTIVE_GRANULARITY_MS && !after.currentlyActive;
  }
  return moved > LAST_ACTIVE_GRANULARITY_MS;
}

function deviceOf(user: UserActivity, deviceId: string): DeviceActivity {
  let device = user.devices.get(deviceId);
  if (device === undefined) {
    device = { state: 'offline', lastActiveTs: 0, lastSyncTs: 0, syncs: 0 };
    user.devices.set(deviceId, device);
  }
  return device;
}

function combinedState(devices: ReadonlyMap<string, DeviceActivity>): PresenceState {
  let best: PresenceState = 'offline';
  for (const device of devices.values()) {
    if (PRIORITY[device.state] > PRIORITY[best]) best = device.state;
  }
  return best;
}
