import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import { forbidden } from '../../core/errors.js';
import { Listeners } from '../listeners.js';
import type { TypingPosition } from '../sync/sync-token.js';
import type { MembershipLookup } from './membership-lookup.js';

/** The longest a user counts as typing without saying so again (Element re-sends every ~25 s). */
export const MAX_TYPING_TIMEOUT_MS = 30_000;

/** The typing list of a room changed; `position` is the typing stream's new position. */
export interface TypingChange {
  readonly roomId: string;
  readonly position: number;
  /** Who started or stopped typing (federation sends it on as `m.typing`). */
  readonly userId?: string;
  readonly typing?: boolean;
}

/** The `m.typing` ephemeral event of a room (spec: "Typing Notifications"). */
export interface TypingEvent {
  readonly type: 'm.typing';
  readonly content: { readonly user_ids: string[] };
}

interface RoomTyping {
  /** Who is typing, each with the timer that ends it. */
  readonly users: Map<string, NodeJS.Timeout>;
  /** The stream position of the room's last change. */
  position: number;
}

/**
 * Who is typing in which room. Typing is ephemeral (spec), so it lives in the memory of the
 * tenant instance and is lost with it.
 *
 * Positions of the typing stream are a counter that starts at the clock's time in milliseconds
 * when the instance starts: a later instance (after a restart or a move) starts above every
 * position an earlier one handed out, unless it changed typing lists more than once per
 * millisecond on average. A position below this instance's start (or above its current one,
 * from a shard whose clock ran ahead) comes from another instance, whose lists are gone: the
 * typing changes since such a position are the lists of every room asked about, empty ones
 * included, so that clients forget who was typing before.
 */
export class Typing implements TypingPosition {
  readonly changed: Listeners<TypingChange>;
  readonly #memberships: MembershipLookup;
  readonly #rooms = new Map<string, RoomTyping>();
  readonly #start: number;
  #position: number;
  #stopped = false;

  constructor(memberships: MembershipLookup, clock: Clock, logger: Logger) {
    this.#memberships = memberships;
    this.#start = Math.max(1, Math.floor(clock.now()));
    this.#position = this.#start;
    this.changed = new Listeners(logger, 'typing changed');
  }

  currentPosition(): number {
    return this.#position;
  }

  /**
   * `PUT /rooms/{roomId}/typing/{userId}`: the user types for `timeoutMs` (at most 30 s) or
   * stopped. Only members of the room may (403 M_FORBIDDEN otherwise).
   */
  async setTyping(
    roomId: string,
    userId: string,
    typing: boolean,
    timeoutMs: number,
  ): Promise<void> {
    if (!(await this.#memberships.isJoined(roomId, userId))) {
      throw forbidden('You are not in this room');
    }
    if (typing) this.startTyping(roomId, userId, timeoutMs);
    else this.stopTyping(roomId, userId);
  }

  /** Marks a user as typing; typing again only extends the time (the list does not change). */
  startTyping(roomId: string, userId: string, timeoutMs: number): void {
    if (this.#stopped) return;
    const ms = Math.max(0, Math.min(timeoutMs, MAX_TYPING_TIMEOUT_MS));
    let room = this.#rooms.get(roomId);
    if (room === undefined) {
      room = { users: new Map(), position: this.#position };
      this.#rooms.set(roomId, room);
    }
    const previous = room.users.get(userId);
    if (previous !== undefined) clearTimeout(previous);
    const timer = setTimeout(() => this.stopTyping(roomId, userId), ms);
    // Typing never keeps the process alive; stop() clears what is left.
    timer.unref();
    room.users.set(userId, timer);
    if (previous === undefined) this.#changed(roomId, room, userId, true);
  }

  /** The user stopped typing (said so, timed out, or left the room). */
  stopTyping(roomId: string, userId: string): void {
    const room = this.#rooms.get(roomId);
    const timer = room?.users.get(userId);
    if (room === undefined || timer === undefined) return;
    clearTimeout(timer);
    room.users.delete(userId);
    this.#changed(roomId, room, userId, false);
  }

  /** Who is typing in a room, in the order they started. */
  typingUsers(roomId: string): string[] {
    return [...(this.#rooms.get(roomId)?.users.keys() ?? [])];
  }

  /**
   * For `/sync`: the `m.typing` event of each room among `roomIds` whose list changed after
   * position `from`, with the current list (a client replaces its list with it, so a list
   * newer than the sync's upper position is still right). `from` 0 (initial sync) gives the
   * rooms where someone is typing; a `from` of another instance gives every room asked about.
   */
  changesSince(roomIds: Iterable<string>, from: number): Map<string, TypingEvent> {
    const events = new Map<string, TypingEvent>();
    const initial = from === 0;
    const foreign = !initial && (from < this.#start || from > this.#position);
    for (const roomId of roomIds) {
      const room = this.#rooms.get(roomId);
      const include = foreign
        ? true
        : initial
          ? room !== undefined && room.users.size > 0
          : room !== undefined && room.position > from;
      if (include) {
        events.set(roomId, {
          type: 'm.typing',
          content: { user_ids: [...(room?.users.keys() ?? [])] },
        });
      }
    }
    return events;
  }

  /** Clears every timer and forgets every list (the tenant is stopping). */
  stop(): void {
    this.#stopped = true;
    for (const room of this.#rooms.values()) {
      for (const timer of room.users.values()) clearTimeout(timer);
    }
    this.#rooms.clear();
  }

  #changed(roomId: string, room: RoomTyping, userId: string, typing: boolean): void {
    this.#position += 1;
    room.position = this.#position;
    // Listeners log their own failures; nothing to wait for here (timers call this too).
    void this.changed.emit({ roomId, position: this.#position, userId, typing });
  }
}
