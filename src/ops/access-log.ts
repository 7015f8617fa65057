import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import pino, { type Logger } from 'pino';
import type { RequestScope } from '../pipeline/scope.js';
import type { Metrics, RequestOutcome } from './metrics.js';

/** What the proxy handler learns about one request while it judges and forwards it. */
export interface RequestRecord {
  outcome: RequestOutcome;
  /** Who made it, when anyone was identified. */
  user: string | null;
  /** Time from forwarding to the app's response headers, when it was forwarded. */
  upstreamMs: number | null;
}

export interface ObserverOptions {
  format: 'json' | 'combined' | 'off';
  /** Also log the query string (off by default: it may hold what users typed). */
  includeQuery: boolean;
  logger: Logger;
  metrics: Metrics | null;
}

/**
 * One access-log line and the request metrics for every proxied request, written when its answer
 * is done (or the client went away: `aborted`). JSON lines carry the same request id as every other
 * line about the request; `combined` is the format nginx and Apache write, for tools that read it.
 * The line goes to stdout whatever `log.level` says: the access log is on or off by itself.
 */
export function createRequestObserver(options: ObserverOptions) {
  const { format, metrics } = options;
  const enabled = format !== 'off' || metrics !== null;
  // Written by hand in pino's line shape (level 30, time, service, msg), on the logger's own
  // destination: "log.level: warn" silences messages, not the access log, and a line costs one
  // JSON.stringify (through a pino child it measured ~40 µs of CPU per request, this ~10 µs).
  const stream = format === 'off' ? null : lineStream(options.logger);
  const idle: RequestRecord = { outcome: 'proxied', user: null, upstreamMs: null };

  function begin(req: IncomingMessage, res: ServerResponse, scope: RequestScope): RequestRecord {
    if (!enabled) return idle;
    const startedAt = performance.now();
    const socket = req.socket;
    const bytesBefore = socket.bytesWritten;
    const record: RequestRecord = { outcome: 'proxied', user: null, upstreamMs: null };
    res.once('close', () => {
      const ms = performance.now() - startedAt;
      const status = res.statusCode;
      metrics?.request(record.outcome, status, ms / 1000);
      if (metrics && record.upstreamMs !== null) metrics.upstream(record.upstreamMs / 1000);
      if (format === 'off') return;
      const bytes = socket.bytesWritten - bytesBefore;
      const path = options.includeQuery ? scope.wirePath + scope.query : scope.wirePath;
      const aborted = !res.writableFinished;
      if (!stream) return;
      if (format === 'json') {
        const line = {
          level: 30,
          time: Date.now(),
          service: 'dashgate',
          requestId: scope.id,
          clientIp: scope.clientIp,
          user: record.user,
          method: req.method,
          host: scope.hostname,
          path,
          status,
          bytes,
          durationMs: round(ms),
          upstreamMs: record.upstreamMs === null ? null : round(record.upstreamMs),
          outcome: record.outcome,
          ...(aborted ? { aborted } : {}),
          msg: 'request',
        };
        stream(`${JSON.stringify(line)}\n`);
      } else {
        stream(combinedLine(req, scope, record.user, path, status, bytes));
      }
    });
    return record;
  }

  return { begin, enabled };
}

export type RequestObserver = ReturnType<typeof createRequestObserver>;

const round = (ms: number) => Math.round(ms * 100) / 100;

/** Lines waiting for the end of this turn of the event loop, per destination; written at exit too. */
const unflushed = new Set<() => void>();
process.once('exit', () => {
  for (const flush of unflushed) flush();
});

/**
 * The logger's own destination for whole lines (one writer on stdout, so lines never
 * interleave), batched: the lines of every request answered in one turn of the event loop go out
 * in one write, at the end of that turn (a write per line measured as much CPU as the rest of the
 * access log). Nothing waits longer than the turn; a crash can lose that turn's lines.
 */
function lineStream(logger: Logger): (line: string) => void {
  const destination = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as { write(chunk: string): unknown } | undefined;
  // The pretty printer (a terminal) runs in a worker thread: access lines go straight to stdout there.
  const write = !destination || destination.constructor?.name === 'ThreadStream' ? (text: string) => process.stdout.write(text) : (text: string) => destination.write(text);
  let pending = '';
  const flush = () => {
    unflushed.delete(flush);
    if (pending === '') return;
    const text = pending;
    pending = '';
    write(text);
  };
  return (line) => {
    if (pending === '') {
      unflushed.add(flush);
      setImmediate(flush);
    }
    pending += line;
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
let stampSecond = -1;
let stamp = '';

/** `[02/Dec/2026:07:35:15 +0000]`, formatted once per second. */
function clfTime(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== stampSecond) {
    const d = new Date(now);
    const two = (n: number) => String(n).padStart(2, '0');
    stamp = `[${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000]`;
    stampSecond = second;
  }
  return stamp;
}

/** A field of the combined format: quoted, with quotes, backslashes and control characters escaped (log injection). */
function quoted(value: string | undefined): string {
  if (value === undefined || value === '') return '"-"';
  return `"${value.replace(/[\\"\x00-\x1f\x7f]/g, (c) => (c === '"' ? '\\"' : c === '\\' ? '\\\\' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`))}"`;
}

/** A user name in the combined format's unquoted field: no spaces or control characters. */
function bare(value: string | null): string {
  if (!value) return '-';
  return value.replace(/[\s"\\\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function combinedLine(req: IncomingMessage, scope: RequestScope, user: string | null, path: string, status: number, bytes: number): string {
  const referer = typeof req.headers.referer === 'string' ? req.headers.referer : undefined;
  const agent = typeof req.headers['user-agent'] === 'string' ? req.headers['user-agent'] : undefined;
  const request = `${req.method ?? '-'} ${path} HTTP/${req.httpVersion}`;
  return `${scope.clientIp || '-'} - ${bare(user)} ${clfTime()} ${quoted(request)} ${status} ${bytes} ${quoted(referer)} ${quoted(agent)}\n`;
}
