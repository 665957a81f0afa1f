import { randomInt } from 'node:crypto';
import type { Clock } from '../../core/clock.js';
import { invalidParam } from '../../core/errors.js';
import {
  insertRegistrationToken,
  selectRegistrationToken,
  selectRegistrationTokens,
  type RegistrationTokenRow,
} from '../../storage/accounts/registration-tokens.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';

/** A registration token as Synapse's admin API shows it. */
export interface RegistrationTokenInfo {
  token: string;
  uses_allowed: number | null;
  pending: number;
  completed: number;
  expiry_time: number | null;
}

/** The spec: opaque identifier grammar, at most 64 characters. */
const TOKEN_PATTERN = /^[A-Za-z0-9._~-]{1,64}$/;
const TOKEN_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const DEFAULT_TOKEN_LENGTH = 16;

/** Registration tokens for `registration_mode: token` (`m.login.registration_token`). */
export class RegistrationTokens {
  constructor(
    private readonly db: TenantDatabase,
    private readonly clock: Clock,
  ) {}

  /** Whether a token can start a registration now: known, unexpired, uses left. */
  isUsable(row: RegistrationTokenRow | undefined): row is RegistrationTokenRow {
    if (row === undefined) return false;
    if (row.expiry_time !== null && row.expiry_time <= this.clock.now()) return false;
    return row.uses_allowed === null || row.pending + row.completed < row.uses_allowed;
  }

  async isValid(token: string): Promise<boolean> {
    if (!TOKEN_PATTERN.test(token)) return false;
    return this.isUsable(await this.db.read((db) => selectRegistrationToken(db, token)));
  }

  /**
   * `POST /_synapse/admin/v1/registration_tokens/new`: a given or generated token, with an
   * optional number of uses and expiry time (ms since the epoch).
   */
  async create(params: {
    token?: string;
    usesAllowed?: number | null;
    expiryTime?: number | null;
    length?: number;
  }): Promise<RegistrationTokenInfo> {
    const usesAllowed = params.usesAllowed ?? null;
    const expiryTime = params.expiryTime ?? null;
    if (usesAllowed !== null && (!Number.isSafeInteger(usesAllowed) || usesAllowed < 0)) {
      throw invalidParam('uses_allowed must be a non-negative integer or null');
    }
    if (
      expiryTime !== null &&
      (!Number.isSafeInteger(expiryTime) || expiryTime < this.clock.now())
    ) {
      throw invalidParam('expiry_time must be an integer time in the future, or null');
    }
    if (params.token !== undefined) {
      if (!TOKEN_PATTERN.test(params.token)) {
        throw invalidParam('token must be 1 to 64 characters of A-Z, a-z, 0-9, ".", "_", "~", "-"');
      }
      const inserted = await this.db.transact((trx) =>
        insertRegistrationToken(trx, { token: params.token as string, usesAllowed, expiryTime }),
      );
      if (!inserted) throw invalidParam(`Token already exists: ${params.token}`);
      return {
        token: params.token,
        uses_allowed: usesAllowed,
        pending: 0,
        completed: 0,
        expiry_time: expiryTime,
      };
    }
    const length = params.length ?? DEFAULT_TOKEN_LENGTH;
    if (!Number.isInteger(length) || length < 1 || length > 64) {
      throw invalidParam('length must be an integer from 1 to 64');
    }
    // Short tokens can run out; give up rather than loop forever.
    for (let attempt = 0; attempt < 20; attempt++) {
      const token = generate(length);
      const inserted = await this.db.transact((trx) =>
        insertRegistrationToken(trx, { token, usesAllowed, expiryTime }),
      );
      if (inserted) {
        return {
          token,
          uses_allowed: usesAllowed,
          pending: 0,
          completed: 0,
          expiry_time: expiryTime,
        };
      }
    }
    throw invalidParam(`No unused token of length ${length} was found; ask for a longer one`);
  }

  /** All tokens; `valid` true: only usable ones, false: only unusable ones. */
  async list(valid?: boolean): Promise<RegistrationTokenInfo[]> {
    const rows = await this.db.read((db) => selectRegistrationTokens(db));
    return rows
      .filter((row) => valid === undefined || this.isUsable(row) === valid)
      .map((row) => ({ ...row }));
  }
}

function generate(length: number): string {
  let token = '';
  for (let i = 0; i < length; i++) token += TOKEN_ALPHABET[randomInt(TOKEN_ALPHABET.length)];
  return token;
}
