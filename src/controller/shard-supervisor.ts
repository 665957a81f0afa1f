import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { LogFileTail } from './log-file-tail.js';
import type { ShardBackend } from './shard-backend.js';
import {
  describeExit,
  launchShard,
  type RunningShard,
  type ShardExit,
  type ShardOutput,
} from './shard-process.js';

/**
 * Keeps a set of shard processes running: starts the first ones (that start must succeed),
 * takes more (`add`) and lets some go (`retire`) as the controller decides, restarts one that
 * exits on its own after a growing pause (1 s, 2 s, 4 s … 30 s; back to 1 s once a shard has run
 * for a minute), and stops them all on `stop()`.
 */

export interface SupervisorHooks {
  /** A shard (re)started and is ready: hand it its tenants. Errors are logged. */
  ready(shard: RunningShard): Promise<void>;
  /** A shard exited on its own (it will be restarted). */
  exited(shardId: string, exit: ShardExit): Promise<void>;
}

export interface ShardSupervisorOptions {
  readonly dataDir: string;
  readonly logger: Logger;
  readonly hooks: SupervisorHooks;
  readonly output: ShardOutput;
  readonly extraArgs?: readonly string[];
  /**
   * Shards that outlive the controller: each logs to `logDir/<shard_id>.log`, which the
   * supervisor follows into `output` while it runs. Without it, shards stop with this process.
   */
  readonly logDir?: string;
  readonly readyTimeoutMs?: number;
  readonly stopTimeoutMs?: number;
  readonly restartDelayMs?: { readonly initial: number; readonly max: number };
}

/** tsx compiles the sources on start; a loaded 2-core machine needs a while. */
const DEFAULT_READY_TIMEOUT_MS = 60_000;
const DEFAULT_STOP_TIMEOUT_MS = 10_000;
const DEFAULT_RESTART_DELAY_MS = { initial: 1_000, max: 30_000 };
/** A shard that ran this long before it died starts over with the shortest pause. */
const STABLE_AFTER_MS = 60_000;

interface Slot {
  readonly shardId: string;
  current?: RunningShard;
  /** Unexpected exits in a row without a stable run in between. */
  failures: number;
  restartTimer?: NodeJS.Timeout;
  launching?: Promise<void>;
  /** Follows its log file (shards that may outlive the controller). */
  logTail?: LogFileTail;
}

export class ShardSupervisor implements ShardBackend {
  private slots: Slot[] = [];
  private readonly stopping = new AbortController();

  constructor(private readonly options: ShardSupervisorOptions) {}

  /** Starts the first shards; if one cannot start, stops the others and rejects with its reason. */
  async start(shardIds: readonly string[]): Promise<void> {
    if (this.options.logDir !== undefined) await mkdir(this.options.logDir, { recursive: true });
    const slots = shardIds.map((shardId) => ({ shardId, failures: 0 }));
    this.slots.push(...slots);
    const results = await Promise.allSettled(slots.map((slot) => this.launch(slot)));
    const failed = results.find((result) => result.status === 'rejected');
    if (failed !== undefined) {
      await this.stop();
      throw failed.reason;
    }
  }

  /**
   * Starts one more shard; resolves once it is up and has its tenants. If it cannot start, it is
   * tried again as a crashed one would be, and this rejects with the reason.
   */
  async add(shardId: string): Promise<void> {
    if (this.slots.some((slot) => slot.shardId === shardId)) {
      throw new Error(`shard ${shardId} runs already`);
    }
    const slot: Slot = { shardId, failures: 0 };
    this.slots.push(slot);
    try {
      await this.launch(slot);
    } catch (error) {
      if (!this.stopping.signal.aborted && this.slots.includes(slot)) {
        this.scheduleRestart(slot, this.restartDelay(slot));
      }
      throw error;
    }
  }

  /**
   * Takes over a shard an earlier controller started (see adopted-shard.ts): watched, restarted
   * if it dies, its log file followed from its current end.
   */
  async adopt(shard: RunningShard): Promise<void> {
    const slot: Slot = { shardId: shard.shardId, failures: 0, current: shard };
    this.slots.push(slot);
    await this.followLog(slot);
    void shard.exited.then((exit) => this.onExit(slot, shard, exit));
    this.options.logger.info(
      { shard_id: shard.shardId, pid: shard.pid, traffic_url: shard.trafficUrl },
      `adopted shard ${shard.shardId}, still running from an earlier controller`,
    );
  }

  /**
   * Lets go of every shard without stopping it (a controller that stops and leaves its shards
   * serving, for the next one to adopt): no more restarts, watching or log following.
   */
  async detach(): Promise<void> {
    this.stopping.abort();
    for (const slot of this.slots) clearTimeout(slot.restartTimer);
    await Promise.allSettled(this.slots.map((slot) => slot.launching));
    await Promise.allSettled(this.slots.map((slot) => slot.logTail?.close()));
    this.slots = [];
  }

  /** Stops a shard for good (no restart); resolves once its process is gone. */
  async retire(shardId: string): Promise<void> {
    const slot = this.slots.find((candidate) => candidate.shardId === shardId);
    if (slot === undefined) return;
    this.slots = this.slots.filter((candidate) => candidate !== slot);
    clearTimeout(slot.restartTimer);
    await slot.launching;
    const shard = slot.current;
    slot.current = undefined;
    if (shard === undefined) return;
    const exit = await shard.stop(this.options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS);
    await slot.logTail?.close();
    this.options.logger.info(
      { shard_id: shardId, pid: shard.pid, exit: describeExit(exit) },
      `shard ${shardId} retired`,
    );
  }

  /** The shard process serving `shardId` now, if it is up. */
  running(shardId: string): RunningShard | undefined {
    return this.slots.find((slot) => slot.shardId === shardId)?.current;
  }

  /**
   * Kills every shard at once, synchronously: the last resort of a controller process that is
   * exiting without `stop()` (a crash), so that no shard outlives it holding ports and files.
   */
  killNow(): void {
    for (const slot of this.slots) slot.current?.kill();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    for (const slot of this.slots) clearTimeout(slot.restartTimer);
    await Promise.allSettled(this.slots.map((slot) => slot.launching));
    const timeoutMs = this.options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    await Promise.allSettled(
      this.slots.map(async (slot) => {
        const shard = slot.current;
        slot.current = undefined;
        const exit = await shard?.stop(timeoutMs);
        // Its last lines (how it stopped) are read before the tail closes.
        await slot.logTail?.close();
        if (shard === undefined || exit === undefined) return;
        this.options.logger.info(
          { shard_id: slot.shardId, pid: shard.pid, exit: describeExit(exit) },
          `shard ${slot.shardId} stopped`,
        );
      }),
    );
  }

  private launch(slot: Slot): Promise<void> {
    const launching = this.launchOnce(slot);
    slot.launching = launching.catch(() => {});
    return launching;
  }

  private async launchOnce(slot: Slot): Promise<void> {
    const { logger } = this.options;
    await this.followLog(slot);
    const shard = await launchShard({
      shardId: slot.shardId,
      dataDir: this.options.dataDir,
      token: randomBytes(32).toString('base64url'),
      readyTimeoutMs: this.options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
      output: this.options.output,
      extraArgs: this.options.extraArgs,
      signal: this.stopping.signal,
      logFile: this.logFile(slot.shardId),
    });
    slot.current = shard;
    void shard.exited.then((exit) => this.onExit(slot, shard, exit));
    logger.info(
      {
        shard_id: shard.shardId,
        pid: shard.pid,
        traffic_url: shard.trafficUrl,
        admin_url: shard.adminUrl,
      },
      `shard ${shard.shardId} is up`,
    );
    try {
      await this.options.hooks.ready(shard);
    } catch (error) {
      logger.error({ shard_id: shard.shardId, err: error }, 'could not hand a shard its tenants');
    }
  }

  private logFile(shardId: string): string | undefined {
    return this.options.logDir === undefined
      ? undefined
      : join(this.options.logDir, `${shardId}.log`);
  }

  /** Passes the shard's log file on to the output, from its current end (once per slot). */
  private async followLog(slot: Slot): Promise<void> {
    const file = this.logFile(slot.shardId);
    if (file === undefined || slot.logTail !== undefined) return;
    slot.logTail = await LogFileTail.follow(file, (line) => this.options.output.stderr(line));
  }

  private async onExit(slot: Slot, shard: RunningShard, exit: ShardExit): Promise<void> {
    if (this.stopping.signal.aborted || slot.current !== shard || !this.slots.includes(slot)) {
      return;
    }
    slot.current = undefined;
    if (Date.now() - shard.startedAt >= STABLE_AFTER_MS) slot.failures = 0;
    const delayMs = this.restartDelay(slot);
    this.options.logger.error(
      { shard_id: slot.shardId, pid: shard.pid, exit: describeExit(exit), restart_in_ms: delayMs },
      `shard ${slot.shardId} exited unexpectedly (${describeExit(exit)}); restarting it in ${delayMs} ms`,
    );
    try {
      await this.options.hooks.exited(slot.shardId, exit);
    } catch (error) {
      this.options.logger.error({ shard_id: slot.shardId, err: error }, 'shard exit hook failed');
    }
    this.scheduleRestart(slot, delayMs);
  }

  private restartDelay(slot: Slot): number {
    const { initial, max } = this.options.restartDelayMs ?? DEFAULT_RESTART_DELAY_MS;
    const delay = Math.min(max, initial * 2 ** slot.failures);
    slot.failures += 1;
    return delay;
  }

  private scheduleRestart(slot: Slot, delayMs: number): void {
    if (this.stopping.signal.aborted) return;
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (this.stopping.signal.aborted || !this.slots.includes(slot)) return;
      this.launch(slot).catch((error: unknown) => {
        if (this.stopping.signal.aborted || !this.slots.includes(slot)) return;
        const nextDelayMs = this.restartDelay(slot);
        this.options.logger.error(
          { shard_id: slot.shardId, err: error, restart_in_ms: nextDelayMs },
          `shard ${slot.shardId} failed to restart; trying again in ${nextDelayMs} ms`,
        );
        this.scheduleRestart(slot, nextDelayMs);
      });
    }, delayMs);
  }
}
