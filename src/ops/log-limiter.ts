import type { Logger } from 'pino';

type Level = 'error' | 'warn' | 'info';

/**
 * Log lines for failures that can repeat once per request (the app is down, the database is
 * gone): at most one line per kind per interval, the next one saying how many were held back.
 * Without it a dead upstream under load wrote one warning per request (29,862 lines in 10 s).
 */
export function createLogLimiter(logger: Logger, options: { intervalMs?: number; now?: () => number } = {}) {
  const intervalMs = options.intervalMs ?? 1000;
  const now = options.now ?? Date.now;
  const kinds = new Map<string, { lastAt: number; held: number }>();

  return function logLimited(level: Level, kind: string, fields: Record<string, unknown>, message: string): void {
    const at = now();
    const state = kinds.get(kind);
    if (state && at - state.lastAt < intervalMs) {
      state.held++;
      return;
    }
    const held = state?.held ?? 0;
    if (kinds.size > 1000) kinds.clear();
    kinds.set(kind, { lastAt: at, held: 0 });
    logger[level]({ ...fields, kind, ...(held > 0 ? { repeated: held } : {}) }, held > 0 ? `${message} (and ${held} more like it since the last line)` : message);
  };
}

export type LogLimited = ReturnType<typeof createLogLimiter>;
