import { createHash, randomBytes } from 'node:crypto';

/**
 * Prefixes that make Marina's secrets recognisable (to secret scanners, in logs, to operators);
 * what follows is 32 random bytes, base64url.
 */
export const TOKEN_PREFIXES = Object.freeze({
  access: 'marina_at_',
  refresh: 'marina_rt_',
  login: 'marina_lt_',
});

const TOKEN_BYTES = 32;

/** Tokens longer than this are refused without hashing (ours are 53 characters). */
export const MAX_TOKEN_LENGTH = 1024;

export function generateToken(kind: keyof typeof TOKEN_PREFIXES): string {
  return TOKEN_PREFIXES[kind] + randomBytes(TOKEN_BYTES).toString('base64url');
}

/** What the database keeps instead of a token: its SHA-256, hex. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A random identifier (session IDs, refresh token IDs), base64url. */
export function randomId(bytes = 18): string {
  return randomBytes(bytes).toString('base64url');
}
