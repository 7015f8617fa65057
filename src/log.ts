import pino, { type Logger } from 'pino';

/** Paths pino blanks out wherever they appear in a log line: never log a secret. */
export const REDACTED_PATHS = [
  'password', '*.password', 'token', '*.token', 'secret', '*.secret', 'csrf', '*.csrf',
  'req.headers.cookie', 'req.headers.authorization', 'headers.cookie', 'headers.authorization', 'res.headers["set-cookie"]',
];

/** JSON lines by default; human-readable on a terminal (`format: auto`) or when asked. */
export function createLogger(options: { level: string; format: 'auto' | 'json' | 'pretty' }, stream?: NodeJS.WritableStream): Logger {
  const pretty = options.format === 'pretty' || (options.format === 'auto' && process.stdout.isTTY === true && stream === undefined);
  const base = { level: options.level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, base: { service: 'dashgate' } };
  if (pretty) return pino({ ...base, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,service' } } });
  return stream ? pino(base, stream as pino.DestinationStream) : pino(base);
}
