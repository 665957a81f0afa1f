import { readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The layer rule of docs/architecture.md: a folder of src/ imports only from itself and from
 * folders listed before it. Process folders (shard, router, controller) do not import each other;
 * cli may import them all.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['core'],
  ['protocol'],
  ['storage'],
  ['services'],
  ['api'],
  ['http'],
  ['homeserver'],
  ['shard', 'router', 'controller'],
  ['cli'],
];

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src');

function layerOf(folder: string): number {
  const index = LAYERS.findIndex((layer) => layer.includes(folder));
  if (index === -1) throw new Error(`src/${folder} is in no layer of docs/architecture.md`);
  return index;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return sourceFiles(path);
      return Promise.resolve(entry.name.endsWith('.ts') ? [path] : []);
    }),
  );
  return nested.flat();
}

function importsOf(source: string): string[] {
  const specifiers = [...source.matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g)];
  const dynamic = [...source.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)];
  return [...specifiers, ...dynamic].map((match) => match[1] as string);
}

describe('architecture', () => {
  it('each src folder imports only from itself and earlier layers', async () => {
    const violations: string[] = [];
    for (const file of await sourceFiles(SRC)) {
      const folder = relative(SRC, file).split('/')[0] as string;
      const ownLayer = layerOf(folder);
      for (const specifier of importsOf(await readFile(file, 'utf8'))) {
        if (!specifier.startsWith('.')) continue;
        const targetPath = relative(SRC, resolve(dirname(file), specifier));
        if (targetPath.startsWith('..')) {
          // Outside src/: only tests may reach for test helpers.
          if (!file.endsWith('.test.ts'))
            violations.push(`${relative(SRC, file)} imports ${specifier}`);
          continue;
        }
        const target = targetPath.split('/')[0] as string;
        if (target === folder) continue;
        const targetLayer = layerOf(target);
        const sameProcessLayer = targetLayer === ownLayer;
        if (targetLayer > ownLayer || sameProcessLayer) {
          violations.push(`${relative(SRC, file)} imports ${specifier}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it('only src/http imports fastify', async () => {
    const offenders: string[] = [];
    for (const file of await sourceFiles(SRC)) {
      const imports = importsOf(await readFile(file, 'utf8'));
      if (imports.some((s) => s === 'fastify' || s.startsWith('@fastify/'))) {
        if (!relative(SRC, file).startsWith('http/')) offenders.push(relative(SRC, file));
      }
    }
    expect(offenders).toEqual([]);
  });
});
