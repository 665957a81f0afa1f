import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';

/**
 * Checkpoints the write-ahead logs of SQLite tenant databases on a worker thread.
 *
 * SQLite's automatic checkpoint runs inside a commit, on the thread that commits, and syncs the
 * file twice: in a shard, one tenant's checkpoint would stall every tenant's requests for
 * milliseconds. A database opened with a checkpointer raises its automatic threshold to a safety
 * net and asks for a PASSIVE checkpoint here every so many commits; the worker opens the file
 * with its own connection, checkpoints what no reader still needs, and closes it. Writers and
 * readers of the main thread go on meanwhile (WAL allows it).
 *
 * One per process, owned by whoever hosts the tenants (the shard), shared by their databases:
 * it holds no tenant data, only file paths waiting for a checkpoint.
 */
export class WalCheckpointer {
  readonly #worker: Worker;
  readonly #log: Logger | undefined;
  /** Files waiting for a checkpoint, and the one in progress: each file is queued once. */
  readonly #queued = new Set<string>();
  #busy: string | undefined;
  #closed = false;

  constructor(logger?: Logger) {
    this.#log = logger;
    const betterSqlite3 = createRequire(import.meta.url).resolve('better-sqlite3');
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { betterSqlite3 } });
    this.#worker.on('message', (message: CheckpointResult) => this.#finished(message));
    this.#worker.on('error', (error) => {
      this.#log?.error({ err: error }, 'WAL checkpoint worker failed; SQLite checkpoints itself');
      this.#closed = true;
    });
    // An idle checkpointer must not keep the process alive.
    this.#worker.unref();
  }

  /** Asks for a checkpoint of the database file at `path` (ignored if one is already waiting). */
  request(path: string): void {
    if (this.#closed || this.#queued.has(path)) return;
    this.#queued.add(path);
    this.#next();
  }

  /** Stops the worker; requests still queued are dropped (closing a database checkpoints it). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#queued.clear();
    await this.#worker.terminate();
  }

  #next(): void {
    if (this.#busy !== undefined || this.#closed) return;
    const [path] = this.#queued;
    if (path === undefined) return;
    this.#queued.delete(path);
    this.#busy = path;
    this.#worker.ref();
    this.#worker.postMessage(path);
  }

  #finished(result: CheckpointResult): void {
    this.#busy = undefined;
    this.#worker.unref();
    if (result.error !== undefined) {
      // Not fatal: the WAL grows until the next checkpoint, or SQLite's own safety net.
      this.#log?.warn({ path: result.path, reason: result.error }, 'WAL checkpoint failed');
    } else {
      this.#log?.trace({ path: result.path, ...result.counts }, 'WAL checkpointed');
    }
    this.#next();
  }
}

interface CheckpointResult {
  readonly path: string;
  readonly error?: string;
  readonly counts?: { busy: number; log: number; checkpointed: number };
}

/** The worker: plain CommonJS (no TypeScript loader runs in it). */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.betterSqlite3);
parentPort.on('message', (path) => {
  let db;
  try {
    db = new Database(path, { fileMustExist: true, timeout: 5000 });
    const [counts] = db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ path, counts });
  } catch (error) {
    parentPort.postMessage({ path, error: String(error && error.message || error) });
  } finally {
    if (db && db.open) db.close();
  }
});
`;
