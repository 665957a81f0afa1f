import { randomInt } from 'node:crypto';
import { canonicalJson } from '../../core/canonical-json.js';
import { notFound } from '../../core/errors.js';
import {
  insertFilter,
  selectFilter,
  selectFilterIdByJson,
} from '../../storage/accounts/filters.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import type { Filter } from './filter-schema.js';

const FILTER_ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const FILTER_ID_LENGTH = 12;

/** Filters uploaded by users (`POST /user/{userId}/filter`), for sync to apply. */
export class Filters {
  constructor(private readonly db: TenantDatabase) {}

  /**
   * Stores a filter (validated by `filterSchema`) and returns its ID. Clients upload the same
   * filter at every start, so an identical one returns the existing ID instead of a new row.
   */
  async create(userId: string, filter: Filter): Promise<string> {
    const json = serialise(filter);
    return this.db.transact(async (trx) => {
      const existing = await selectFilterIdByJson(trx, userId, json);
      if (existing !== undefined) return existing;
      // Random IDs: concurrent uploads never race for "the next number".
      let filterId = '';
      for (let i = 0; i < FILTER_ID_LENGTH; i++) {
        filterId += FILTER_ID_ALPHABET[randomInt(FILTER_ID_ALPHABET.length)];
      }
      await insertFilter(trx, userId, filterId, json);
      return filterId;
    });
  }

  /** 404 M_NOT_FOUND for a filter this user does not have. */
  async get(userId: string, filterId: string): Promise<Filter> {
    const json = await this.db.read((db) => selectFilter(db, userId, filterId));
    if (json === undefined) throw notFound('Filter not found');
    return JSON.parse(json) as Filter;
  }
}

/** Canonical JSON when possible (stable, so duplicates are found); plain JSON for floats. */
function serialise(filter: Filter): string {
  try {
    return canonicalJson(filter);
  } catch {
    return JSON.stringify(filter);
  }
}
