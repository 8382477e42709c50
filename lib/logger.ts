// One home for logging: every deployable gets its logger here (pino, JSON to stdout).
// A unit of work (a reconcile, a request, a sync) uses `logger.child({ reconcileId })` etc.
import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

export function createLogger(component: string, options: LoggerOptions = {}): Logger {
  return pino({
    name: component,
    level: process.env.LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info'),
    base: { component },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...options,
  });
}
