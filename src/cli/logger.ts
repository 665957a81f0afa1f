import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export interface ProcessLoggerOptions {
  /**
   * Standard output by default (a server's logs); standard error for commands whose standard
   * output is their result (`marina user create`).
   */
  stream?: 'stdout' | 'stderr';
  /** Level when MARINA_LOG_LEVEL is unset (default info). */
  defaultLevel?: string;
}

/**
 * The process logger. JSON lines (for log shippers), or readable lines when the stream is a
 * terminal; MARINA_LOG_FORMAT=json|pretty overrides. Level from MARINA_LOG_LEVEL (default info).
 */
export function createProcessLogger(name: string, options: ProcessLoggerOptions = {}): Logger {
  const stream = options.stream ?? 'stdout';
  const fd = stream === 'stdout' ? 1 : 2;
  const loggerOptions = {
    name,
    level: process.env.MARINA_LOG_LEVEL ?? options.defaultLevel ?? 'info',
  };
  const format = process.env.MARINA_LOG_FORMAT ?? (process[stream].isTTY ? 'pretty' : 'json');
  if (format === 'pretty') {
    return pino(
      loggerOptions,
      pretty({
        colorize: true,
        ignore: 'pid,hostname',
        translateTime: 'SYS:HH:MM:ss.l',
        destination: fd,
      }),
    );
  }
  return stream === 'stdout' ? pino(loggerOptions) : pino(loggerOptions, pino.destination(fd));
}
