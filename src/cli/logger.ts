import { pino, type Logger } from 'pino';

/** The process logger: JSON lines on stdout, level from MARINA_LOG_LEVEL (default info). */
export function createProcessLogger(name: string): Logger {
  return pino({ name, level: process.env.MARINA_LOG_LEVEL ?? 'info' });
}
