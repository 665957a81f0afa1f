import { invalidParam } from '../../core/errors.js';

/**
 * Pagination tokens of room timelines: `s<stream_ordering>`, a position in the tenant's event
 * stream, between the event at that position and the next one. Sync tokens start with the same
 * `s<events position>_…`, so anything after the first `_` is ignored: a sync `next_batch` or
 * `prev_batch` is a valid `from` for `/messages`. Positions below 0 are those of events fetched
 * from a room's past over federation (backfill), which sort before every other event: `s-12`.
 */
const TOKEN = /^s(-?\d{1,15})(?:_|$)/;

export function formatStreamToken(position: number): string {
  return `s${position}`;
}

/** Parses a token; anything else than a token this server writes is 400 M_INVALID_PARAM. */
export function parseStreamToken(text: string, name = 'token'): number {
  const match = TOKEN.exec(text);
  if (match === null) throw invalidParam(`Invalid ${name}: ${JSON.stringify(text.slice(0, 64))}`);
  return Number(match[1]);
}
