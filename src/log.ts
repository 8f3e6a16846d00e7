import pino from 'pino';

/**
 * One JSON line per event. Children carry the context (`logger.child({ callId })`) so every line of a call
 * names it. LOG_LEVEL=silent keeps test output clean; tests set it through vitest's env.
 */
export const logger = pino({
  level: process.env.LOG_LEVEL ?? 'info',
  base: undefined,
  timestamp: pino.stdTimeFunctions.isoTime,
});

export type Logger = typeof logger;
