import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

/**
 * The process logger. JSON lines on stdout (for log shippers), or readable lines when stdout is
 * a terminal; MARINA_LOG_FORMAT=json|pretty overrides. Level from MARINA_LOG_LEVEL (default info).
 */
export function createProcessLogger(name: string): Logger {
  const options = { name, level: process.env.MARINA_LOG_LEVEL ?? 'info' };
  const format = process.env.MARINA_LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json');
  if (format === 'pretty') {
    return pino(
      options,
      pretty({ colorize: true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l' }),
    );
  }
  return pino(options);
}
