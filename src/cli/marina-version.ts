import { readFileSync } from 'node:fs';

/**
 * The version of the Marina code this process runs, from the package.json beside its sources:
 * read from disk, so a `marina upgrade` run after installing a new release names the new one
 * while the running controller still runs the old.
 */
export function marinaVersion(): string {
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  const { version } = JSON.parse(text) as { version?: unknown };
  if (typeof version !== 'string' || version === '') {
    throw new Error('package.json names no version');
  }
  return version;
}
