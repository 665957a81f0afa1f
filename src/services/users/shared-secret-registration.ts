import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../core/clock.js';
import { forbidden, invalidParam } from '../../core/errors.js';
import type { Registration, RegistrationResult } from './registration.js';

/** How long a nonce from `GET /_synapse/admin/v1/register` stays usable (Synapse: 60 s). */
export const NONCE_LIFETIME_MS = 60 * 1000;
/** Unused nonces kept at most; the oldest go first (they are free to ask for). */
const MAX_NONCES = 1000;
const MAX_FIELD_LENGTH = 512;

export interface SharedSecretRegistrationRequest {
  nonce: string;
  username: string;
  password: string;
  admin?: boolean;
  displayname?: string;
  user_type?: string | null;
  mac: string;
}

/**
 * Synapse-compatible shared-secret registration (`/_synapse/admin/v1/register`), which tools
 * like `register_new_matrix_user` and synadm use. Works whatever the registration mode. Nonces
 * live in memory, per tenant instance: each is single-use and lasts a minute.
 */
export class SharedSecretRegistration {
  /** Nonce → expiry time; a Map keeps insertion order, so the first entry is the oldest. */
  readonly #nonces = new Map<string, number>();

  constructor(
    private readonly secret: string,
    private readonly clock: Clock,
    private readonly registration: Registration,
  ) {}

  newNonce(): string {
    const now = this.clock.now();
    for (const [nonce, expires] of this.#nonces) {
      if (expires <= now || this.#nonces.size >= MAX_NONCES) this.#nonces.delete(nonce);
      else break;
    }
    const nonce = randomBytes(16).toString('hex');
    this.#nonces.set(nonce, now + NONCE_LIFETIME_MS);
    return nonce;
  }

  /**
   * Registers a user if `mac` is the hex HMAC-SHA1, keyed with the tenant's
   * `registration_shared_secret`, of `nonce \0 username \0 password \0 admin|notadmin` (then
   * `\0 user_type` when one is given). The nonce is used up whatever the outcome.
   */
  async register(
    request: SharedSecretRegistrationRequest,
    ip: string | null,
  ): Promise<RegistrationResult> {
    const expires = this.#nonces.get(request.nonce);
    this.#nonces.delete(request.nonce);
    if (expires === undefined || expires <= this.clock.now()) {
      throw invalidParam('Unrecognised nonce');
    }
    for (const [name, value] of [
      ['username', request.username],
      ['password', request.password],
      ['displayname', request.displayname ?? ''],
    ] as const) {
      if (value.includes('\0') || value.length > MAX_FIELD_LENGTH) {
        throw invalidParam(`Invalid ${name}: NUL or longer than ${MAX_FIELD_LENGTH} characters`);
      }
    }
    if (!macMatches(this.expectedMac(request), request.mac)) throw forbidden('HMAC incorrect');

    const localpart = await this.registration.checkUsername(request.username);
    return this.registration.createAccount({
      localpart,
      password: request.password,
      isAdmin: request.admin === true,
      isGuest: false,
      displayname: request.displayname,
      session: { refreshable: false, ip },
    });
  }

  expectedMac(request: Omit<SharedSecretRegistrationRequest, 'mac'>): string {
    const hmac = createHmac('sha1', this.secret);
    hmac.update(request.nonce);
    hmac.update('\0');
    hmac.update(request.username);
    hmac.update('\0');
    hmac.update(request.password);
    hmac.update('\0');
    hmac.update(request.admin === true ? 'admin' : 'notadmin');
    if (request.user_type) {
      hmac.update('\0');
      hmac.update(request.user_type);
    }
    return hmac.digest('hex');
  }
}

/** Constant-time comparison of hex MACs (case-insensitive, as hex is). */
function macMatches(expected: string, given: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given.toLowerCase(), 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
