import { readFile } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * What a `marina` process loads before it runs anything (see main.ts): the modules reached from
 * src/cli/main.ts by static imports, which every invocation (`--help` included) loads, and those
 * reached from the shard's action, which every shard process loads. Dynamic `import()` and
 * `import type` load nothing up front, so they are not followed.
 */

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..');

interface StaticImports {
  /** Our modules, relative to src/. */
  modules: Set<string>;
  /** Packages and node built-ins. */
  packages: Set<string>;
}

/** The specifiers of a module's static imports and re-exports (type-only ones excepted). */
function staticSpecifiers(source: string): string[] {
  const fromClauses = source.matchAll(
    /^[ \t]*(?:import|export)(\s+type\b)?[^'";]*?\bfrom\s*['"]([^'"]+)['"]/gm,
  );
  const bare = source.matchAll(/^[ \t]*import\s*['"]([^'"]+)['"]/gm);
  return [
    ...[...fromClauses].filter((match) => match[1] === undefined).map((match) => match[2]!),
    ...[...bare].map((match) => match[1]!),
  ];
}

/** Everything `entry` (relative to src/) loads through static imports, itself included. */
async function staticImportsOf(entry: string): Promise<StaticImports> {
  const modules = new Set<string>();
  const packages = new Set<string>();
  const pending = [entry];
  while (pending.length > 0) {
    const module = pending.pop()!;
    if (modules.has(module)) continue;
    modules.add(module);
    const file = resolve(SRC, module);
    for (const specifier of staticSpecifiers(await readFile(file, 'utf8'))) {
      if (!specifier.startsWith('.')) {
        packages.add(specifier);
        continue;
      }
      // Sources import `./x.js` for `./x.ts`.
      pending.push(relative(SRC, resolve(dirname(file), specifier.replace(/\.js$/, '.ts'))));
    }
  }
  return { modules, packages };
}

describe('what the marina command loads up front', () => {
  it('registers every command with commander and node built-ins alone', async () => {
    const { modules, packages } = await staticImportsOf('cli/main.ts');
    expect([...packages].filter((name) => !name.startsWith('node:'))).toEqual(['commander']);
    // The actions (and through them the shard, the controller, the router) load when they run.
    expect([...modules].filter((module) => module.endsWith('-actions.ts'))).toEqual([]);
    for (const heavy of [
      'shard/shard.ts',
      'controller/controller.ts',
      'controller/controller-client.ts',
      'router/router.ts',
      'cli/logger.ts',
    ]) {
      expect(modules).not.toContain(heavy);
    }
  });

  it('starts a shard without the AWS SDK or sharp (loaded by S3 tenants and images)', async () => {
    const { modules, packages } = await staticImportsOf('cli/commands/shard-actions.ts');
    expect(modules).toContain('shard/shard.ts');
    expect(modules).toContain('storage/media/s3-media-store.ts');
    expect(
      [...packages].filter((name) => name.startsWith('@aws-sdk/') || name === 'sharp'),
    ).toEqual([]);
    // The shard's other heavy dependencies are still loaded up front, as they should be.
    expect(packages).toContain('fastify');
  });

  it('finds type-only imports skipped and every other kind of import', () => {
    expect(
      staticSpecifiers(
        [
          "import type { A } from './a.js';",
          "import { b, type B } from './b.js';",
          'import {',
          '  c,',
          "} from 'c';",
          "export { d } from './d.js';",
          "export type { E } from './e.js';",
          "import 'f';",
          "  const g = await import('./g.js');",
        ].join('\n'),
      ),
    ).toEqual(['./b.js', 'c', './d.js', 'f']);
  });
});
