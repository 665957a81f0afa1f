/**
 * How the controller commands print: aligned text tables for people, indented JSON for programs
 * (`--json`), both on standard output; progress and warnings go to standard error.
 */

/** Columns padded to their widest cell; no line ends with spaces. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths?.[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join('');
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** "1 tenant", "3 tenants". */
export function tenantCount(count: number): string {
  return `${count} tenant${count === 1 ? '' : 's'}`;
}
