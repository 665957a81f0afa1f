import type { Reporter, TestModule } from 'vitest/node';

/**
 * Prints how many tests ran in each project (so the storage tests' counts on SQLite and on
 * PostgreSQL show separately) and a closing `Tests: N passed, N failed` line.
 */
export default class DialectSummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const perProject = new Map<string, { passed: number; failed: number; skipped: number }>();
    for (const testModule of testModules) {
      const counts = perProject.get(testModule.project.name) ?? {
        passed: 0,
        failed: 0,
        skipped: 0,
      };
      for (const test of testModule.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') counts.passed += 1;
        else if (state === 'failed') counts.failed += 1;
        else counts.skipped += 1;
      }
      perProject.set(testModule.project.name, counts);
    }
    const width = Math.max(0, ...[...perProject.keys()].map((name) => name.length));
    const lines = ['', 'Tests per project:'];
    const total = { passed: 0, failed: 0, skipped: 0 };
    for (const [name, counts] of [...perProject].sort(([a], [b]) => a.localeCompare(b))) {
      lines.push(`  ${name.padEnd(width)}  ${format(counts)}`);
      total.passed += counts.passed;
      total.failed += counts.failed;
      total.skipped += counts.skipped;
    }
    lines.push(`Tests: ${format(total)}`, '');
    process.stdout.write(lines.join('\n'));
  }
}

function format(counts: { passed: number; failed: number; skipped: number }): string {
  const skipped = counts.skipped > 0 ? `, ${counts.skipped} skipped` : '';
  return `${counts.passed} passed, ${counts.failed} failed${skipped}`;
}
