import type { Logger } from 'pino';

/** Begins the clean stop for a reason other than a signal (e.g. the parent process is gone). */
export type StopNow = (reason: string) => void;

/**
 * Stops cleanly on SIGTERM or SIGINT; a second signal while stopping exits at once. Signal
 * handlers belong to processes (src/cli, src/shard, …), never to tenant code. Returns a function
 * that begins the same stop for another reason (a stop already under way goes on).
 */
export function stopOnSignals(logger: Logger, stop: () => Promise<void>): StopNow {
  let stopping = false;
  const begin = (cause: Record<string, unknown>) => {
    stopping = true;
    logger.info(cause, 'stopping');
    stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'failed to stop cleanly');
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal while stopping: exiting now');
      process.exit(1);
    }
    begin({ signal });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return (reason) => {
    if (!stopping) begin({ reason });
  };
}

/** How often the parent's process ID is checked (a second check besides standard input). */
const PARENT_CHECK_MS = 1_000;

/**
 * Calls `onGone` once when the parent process is gone, however it died (SIGKILL included): when
 * standard input — a pipe the parent holds and never writes to — reaches its end or closes, or
 * when the process's parent ID changes (an orphan is adopted by init or a subreaper), checked
 * every second in case the end of input goes unseen. Anything read is discarded.
 */
export function whenParentGone(onGone: () => void): void {
  const parent = process.ppid;
  let called = false;
  const gone = () => {
    if (called) return;
    called = true;
    clearInterval(check);
    onGone();
  };
  const check = setInterval(() => {
    if (process.ppid !== parent) gone();
  }, PARENT_CHECK_MS);
  check.unref();
  process.stdin.on('end', gone);
  process.stdin.on('close', gone);
  process.stdin.on('error', gone);
  process.stdin.resume();
}
