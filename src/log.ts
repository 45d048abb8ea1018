// Structured logs (pino), quiet by default: FAAS_LOG_LEVEL=info or debug to see more.
import pino from 'pino';
import type { Logger } from 'pino';

export type { Logger };

export function createLogger(level: string = process.env.FAAS_LOG_LEVEL ?? 'warn', name = 'faas'): Logger {
  return pino({ name, level }, pino.destination(2));
}
