import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { Semaphore } from '../../core/semaphore.js';

/** scrypt cost: N = 2^ln, block size r, parallelism p. */
export interface ScryptCost {
  ln: number;
  r: number;
  p: number;
}

/** OWASP's recommendation for scrypt: N=2^17, r=8, p=1 (128 MiB and ~0.3–1 s per hash). */
export const DEFAULT_SCRYPT_COST: ScryptCost = Object.freeze({ ln: 17, r: 8, p: 1 });

/** Hashes a tenant may compute at once: logins of one tenant never fill the libuv threadpool. */
export const DEFAULT_HASH_CONCURRENCY = 2;

const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** Bounds what a stored hash may ask for, so a corrupt row cannot exhaust memory. */
const MAX_LN = 20;
const MAX_R = 32;
const MAX_P = 16;

const PHC = /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

export interface PasswordHasherOptions {
  /** Cost of new hashes; verification always uses the cost recorded in the hash. */
  cost?: ScryptCost;
  concurrency?: number;
}

/**
 * Password hashing with scrypt, as PHC-style strings `$scrypt$ln=17,r=8,p=1$<salt>$<hash>`
 * (unpadded standard base64). Passwords are NFKC-normalised first, as Synapse does, so the same
 * password typed on different keyboards matches. One instance per tenant: its semaphore bounds
 * that tenant's concurrent hashes.
 */
export class PasswordHasher {
  readonly cost: ScryptCost;
  readonly #semaphore: Semaphore;

  constructor(options: PasswordHasherOptions = {}) {
    this.cost = options.cost ?? DEFAULT_SCRYPT_COST;
    checkCost(this.cost);
    this.#semaphore = new Semaphore(options.concurrency ?? DEFAULT_HASH_CONCURRENCY);
  }

  /** Hashes running now, and hashes waiting for a slot. */
  get load(): { running: number; waiting: number } {
    return { running: this.#semaphore.held, waiting: this.#semaphore.waiting };
  }

  async hash(password: string): Promise<string> {
    const salt = randomBytes(SALT_BYTES);
    const key = await this.#derive(password, salt, this.cost);
    const { ln, r, p } = this.cost;
    return `$scrypt$ln=${ln},r=${r},p=${p}$${unpadded(salt)}$${unpadded(key)}`;
  }

  /** Whether `password` matches `encoded`; false for a null or malformed hash. */
  async verify(password: string, encoded: string | null): Promise<boolean> {
    if (encoded === null) return false;
    const parsed = parsePhc(encoded);
    if (parsed === undefined) return false;
    const key = await this.#derive(password, parsed.salt, parsed.cost, parsed.hash.length);
    return key.length === parsed.hash.length && timingSafeEqual(key, parsed.hash);
  }

  #derive(password: string, salt: Buffer, cost: ScryptCost, length = KEY_BYTES): Promise<Buffer> {
    const options: ScryptOptions = {
      N: 2 ** cost.ln,
      r: cost.r,
      p: cost.p,
      // scrypt needs about 128·N·r bytes; Node refuses (by default above 32 MiB) unless told.
      maxmem: 256 * 2 ** cost.ln * cost.r,
    };
    const input = Buffer.from(password.normalize('NFKC'), 'utf8');
    return this.#semaphore.run(
      () =>
        new Promise<Buffer>((resolve, reject) =>
          scrypt(input, salt, length, options, (error, key) =>
            error ? reject(error) : resolve(key),
          ),
        ),
    );
  }
}

function parsePhc(encoded: string): { cost: ScryptCost; salt: Buffer; hash: Buffer } | undefined {
  const match = PHC.exec(encoded);
  if (!match) return undefined;
  const cost = { ln: Number(match[1]), r: Number(match[2]), p: Number(match[3]) };
  try {
    checkCost(cost);
  } catch {
    return undefined;
  }
  const salt = Buffer.from(match[4] ?? '', 'base64');
  const hash = Buffer.from(match[5] ?? '', 'base64');
  if (salt.length === 0 || hash.length < 16) return undefined;
  return { cost, salt, hash };
}

function checkCost({ ln, r, p }: ScryptCost): void {
  const ok =
    Number.isInteger(ln) &&
    Number.isInteger(r) &&
    Number.isInteger(p) &&
    ln >= 1 &&
    ln <= MAX_LN &&
    r >= 1 &&
    r <= MAX_R &&
    p >= 1 &&
    p <= MAX_P;
  if (!ok) throw new RangeError(`unsupported scrypt cost ln=${ln},r=${r},p=${p}`);
}

function unpadded(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '');
}
