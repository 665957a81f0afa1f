import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { TenantDatabase } from './tenant-database.js';
import { openTenantDatabase } from './tenant-database.js';
import { WalCheckpointer } from './wal-checkpointer.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function waitFor(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i += 1) {
    if (await condition()) return;
    await delay(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function open(checkpointer: WalCheckpointer | undefined): Promise<{
  db: TenantDatabase;
  path: string;
}> {
  const dir = await mkdtemp(join(tmpdir(), 'marina-wal-'));
  const path = join(dir, 'homeserver.db');
  const db = await openTenantDatabase(
    { dialect: 'sqlite', path },
    { serverName: 'wal.test', walCheckpointer: checkpointer },
  );
  cleanups.push(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { db, path };
}

/** Commits `count` transactions of one row of ~3 KB each (about one WAL page per commit). */
async function commitRows(db: TenantDatabase, count: number): Promise<void> {
  for (let i = 0; i < count; i += 1) {
    await db.transact((trx) =>
      trx
        .insertInto('tenant_meta')
        .values({ key: `row-${i}`, value: 'x'.repeat(3000) })
        .execute(),
    );
  }
}

describe('WalCheckpointer', () => {
  it('checkpoints a tenant database on its worker after every 100 commits', async () => {
    const checkpointer = new WalCheckpointer();
    cleanups.push(() => checkpointer.close());
    const { db, path } = await open(checkpointer);
    const sizeBefore = (await stat(path)).size;

    await commitRows(db, 100);

    // The rows reach the database file only through a checkpoint: SQLite's own would wait
    // for 10,000 pages.
    await waitFor(async () => (await stat(path)).size > sizeBefore + 100 * 3000, 'a checkpoint');
  });

  it('leaves checkpoints to SQLite (at 1,000 pages) for a database opened without one', async () => {
    const { db, path } = await open(undefined);
    const sizeBefore = (await stat(path)).size;

    await commitRows(db, 100);
    await delay(200);

    expect((await stat(path)).size).toBe(sizeBefore);
  });

  it('logs a failed checkpoint and goes on with the next request', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino(
      { level: 'warn' },
      { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    );
    const checkpointer = new WalCheckpointer(logger);
    cleanups.push(() => checkpointer.close());
    const missing = join(tmpdir(), 'marina-wal-missing', 'nothing.db');

    checkpointer.request(missing);
    await waitFor(async () => lines.length > 0, 'the warning');
    expect(lines[0]).toMatchObject({ msg: 'WAL checkpoint failed', path: missing });

    const { db, path } = await open(checkpointer);
    const sizeBefore = (await stat(path)).size;
    await commitRows(db, 100);
    await waitFor(async () => (await stat(path)).size > sizeBefore, 'a checkpoint after a failure');
  });

  it('ignores requests once closed', async () => {
    const checkpointer = new WalCheckpointer();
    await checkpointer.close();
    const { db, path } = await open(checkpointer);
    const sizeBefore = (await stat(path)).size;

    await commitRows(db, 100);
    await delay(200);

    expect((await stat(path)).size).toBe(sizeBefore);
  });
});
