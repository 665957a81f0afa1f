/**
 * Sync tokens: where a client is in each of the tenant's streams (DESIGN.md, "Streams").
 *
 * A token is `s<events>_<account_data>_<receipts>_<typing>_<presence>_<to_device>_<device_lists>`,
 * each a non-negative integer position. It starts with `s<events>_` because `/messages` reads
 * a sync token's event position from that prefix. Positions of stored streams are the `sequences`
 * counters of the tenant database, so they survive restarts and moves; the typing position comes
 * from the tenant instance's memory (see `Typing`): a typing position from an earlier instance is
 * below the current instance's first position, and the typing stream treats it as "send every
 * room's list again".
 */
import { invalidParam } from '../../core/errors.js';
import { selectSequenceValues } from '../../storage/ephemeral/stream-positions.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';

/** The streams of a sync token, in token order. */
export const SYNC_STREAMS = [
  'events',
  'account_data',
  'receipts',
  'typing',
  'presence',
  'to_device',
  'device_lists',
] as const;

export type StreamName = (typeof SYNC_STREAMS)[number];

/** A position in every stream. */
export type SyncToken = Readonly<Record<StreamName, number>>;

/** Before anything: what an initial sync starts from. */
export const INITIAL_SYNC_TOKEN: SyncToken = Object.freeze({
  events: 0,
  account_data: 0,
  receipts: 0,
  typing: 0,
  presence: 0,
  to_device: 0,
  device_lists: 0,
});

/** The `sequences` counter behind each stored stream (typing lives in memory). */
const SEQUENCE_OF_STREAM = {
  events: 'stream_ordering',
  account_data: 'account_data',
  receipts: 'receipts',
  presence: 'presence',
  to_device: 'to_device',
  device_lists: 'device_lists',
} as const satisfies Record<Exclude<StreamName, 'typing'>, string>;

// At most 15 digits: every such number is a safe integer, so positions compare exactly.
const TOKEN = /^s(\d{1,15})_(\d{1,15})_(\d{1,15})_(\d{1,15})_(\d{1,15})_(\d{1,15})_(\d{1,15})$/;

export function encodeSyncToken(token: SyncToken): string {
  return `s${SYNC_STREAMS.map((stream) => token[stream]).join('_')}`;
}

/** Parses a token from a client; anything else than a token this server writes is 400 M_INVALID_PARAM. */
export function decodeSyncToken(text: string): SyncToken {
  const match = TOKEN.exec(text);
  if (match === null) throw invalidParam('Invalid sync token');
  const token = {} as Record<StreamName, number>;
  SYNC_STREAMS.forEach((stream, index) => {
    token[stream] = Number(match[index + 1]);
  });
  return Object.freeze(token);
}

/** Whether `token` is past `since` in at least one stream. */
export function isTokenAfter(token: SyncToken, since: SyncToken): boolean {
  return SYNC_STREAMS.some((stream) => token[stream] > since[stream]);
}

/** The in-memory position of the typing stream (the tenant's `Typing` service). */
export interface TypingPosition {
  currentPosition(): number;
}

/** A tenant's current stream positions. */
export class StreamPositions {
  constructor(
    private readonly db: TenantDatabase,
    private readonly typing: TypingPosition,
  ) {}

  /**
   * The token of everything committed so far. Read the token before reading what changed up to
   * it: a change committed in between then shows up in the next sync instead of being skipped.
   */
  async currentToken(): Promise<SyncToken> {
    const names = Object.values(SEQUENCE_OF_STREAM);
    const values = await this.db.read((db) => selectSequenceValues(db, names));
    return Object.freeze({
      events: values[SEQUENCE_OF_STREAM.events],
      account_data: values[SEQUENCE_OF_STREAM.account_data],
      receipts: values[SEQUENCE_OF_STREAM.receipts],
      typing: this.typing.currentPosition(),
      presence: values[SEQUENCE_OF_STREAM.presence],
      to_device: values[SEQUENCE_OF_STREAM.to_device],
      device_lists: values[SEQUENCE_OF_STREAM.device_lists],
    });
  }
}
