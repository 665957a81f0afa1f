/**
 * Bound how many values one statement binds. SQLite allows 32,766 parameters and PostgreSQL
 * 65,535; staying far below keeps statements cheap to prepare and plan on both.
 */
export const MAX_IDS_PER_QUERY = 500;
export const MAX_ROWS_PER_INSERT = 500;

/** Splits `items` into consecutive slices of at most `size` items. */
export function batches<T>(items: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let start = 0; start < items.length; start += size) {
    result.push(items.slice(start, start + size));
  }
  return result;
}
