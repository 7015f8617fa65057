import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { SessionChange } from '../auth/sessions.js';
import type { KeyedLock } from '../auth/keyed-mutex.js';
import { readChange, type ChangeBus } from './change-bus.js';
import type { ReadinessPart } from './health.js';
import { createRedisLock } from './redis-lock.js';
import { ConfigError } from '../errors.js';
import { describeRedisTarget, parseRedisUrl, redisOptions, type RedisTarget } from './redis-url.js';

/**
 * Redis for many instances (`redis.url`): the change bus between instances (an ended session or a
 * changed user reaches every instance within a second, so `session.cache_ttl` can be long) and
 * the lock credential checks take (parallel guesses sent to different instances are checked one
 * at a time). PostgreSQL stays the source of truth: nothing lives only in Redis, the throttle's
 * failure counters included (they are rows in the store, read and written under this lock).
 *
 * Each gateway process keeps two connections: commands (publish, lock) and the subscription.
 * With `server.workers`, every worker is such a process of its own (the primary holds no
 * gateway): its status, fallback and recovery are its own, and the cluster bus still carries
 * changes between the workers of one instance while Redis is down.
 *
 * **Up** means proven end to end: this process heard, on its subscription, the heartbeat it
 * publishes every second, within the last 3 s. Otherwise, **down**: the gateway falls back to
 * the store (the caller shortens its cache, see `redis.outage_cache_ttl`), credential checks are
 * locked per instance only, one warning is logged per outage and one line when it ends. Changes
 * made while down are kept (at most 1000, else one "drop everything" message) and published when
 * Redis is back; and since this process may have missed others' changes meanwhile, coming back
 * up asks the caller to drop every cached credential (`onResync`). ioredis reconnects on its own
 * (every 0.2 s … 2 s); the subscription is made again on every reconnect.
 */

const HEARTBEAT_MS = 1000;
const SILENCE_MS = 3000;
const MAX_PENDING = 1000;

export type RedisState = 'connecting' | 'up' | 'down';

/** What metrics and readiness read. Counters only grow. */
export interface RedisStatus {
  up(): boolean;
  state(): RedisState;
  counters(): { publishErrors: number; lockErrors: number; outages: number; pending: number };
}

export interface RedisLink {
  status: RedisStatus;
  /** The change bus over Redis, joined with `local` (the server.workers siblings). */
  bus: ChangeBus;
  /** The lock across instances; `local` first, then Redis. */
  lock: KeyedLock;
  /** `redis` in `/_dashgate/ready`: `degraded` while down (the gateway still serves, from the store). */
  readiness: ReadinessPart;
  /** `listener` runs when this process may have missed changes: it must drop every cached credential. */
  onResync(listener: () => void): void;
  /** Connects (and keeps reconnecting); until then, and until the first heartbeat, the state is `connecting`. */
  start(): void;
  close(): Promise<void>;
}

export interface RedisLinkOptions {
  target: RedisTarget;
  secrets?: { password?: string | undefined; sentinelPassword?: string | undefined; ca?: string | undefined };
  keyPrefix: string;
  logger: Logger;
  /** The bus to the rest of this instance (server.workers), or a local one. */
  local: ChangeBus;
  /** The lock within this instance (server.workers: the primary's), taken before Redis's. */
  localLock: KeyedLock;
  /** Says how the gateway falls back while Redis is down, for the warning. */
  fallbackNote?: string;
  now?: () => number;
}

type Wire = { from: string; change: SessionChange } | { from: string; resync: true };

export function connectRedis(options: RedisLinkOptions): RedisLink {
  const { logger, keyPrefix } = options;
  const now = options.now ?? Date.now;
  const instance = randomBytes(9).toString('base64url');
  const changesChannel = `${keyPrefix}changes`;
  const heartbeatChannel = `${keyPrefix}heartbeat:${instance}`;
  const where = describeRedisTarget(options.target);
  const connectionOptions = redisOptions(options.target, options.secrets);
  const commands = new Redis({ ...connectionOptions, connectionName: `dashgate-${instance}` });
  const subscriber = new Redis({ ...connectionOptions, connectionName: `dashgate-${instance}-sub` });

  let state: RedisState = 'connecting';
  let subscribed = false;
  let heardAt = -Infinity;
  let downSince = 0;
  let closed = false;
  let startedAt = now();
  const counters = { publishErrors: 0, lockErrors: 0, outages: 0 };
  let pending: string[] = [];
  let pendingOverflowed = false;
  const listeners = new Set<(change: SessionChange) => void>();
  const resyncListeners = new Set<() => void>();

  const status: RedisStatus = {
    up: () => state === 'up',
    state: () => state,
    counters: () => ({ ...counters, pending: pending.length + (pendingOverflowed ? 1 : 0) }),
  };

  function goUp(): void {
    if (closed || state === 'up') return;
    const was = state;
    state = 'up';
    if (was === 'connecting') logger.info({ redis: where }, 'Redis connected: ended sessions and changed users reach every instance at once');
    else logger.info({ redis: where, downForMs: now() - downSince }, 'Redis is reachable again: back to instant revocation and the shared credential lock');
    flushPending();
    for (const listener of resyncListeners) listener();
  }

  function goDown(reason: string): void {
    if (closed || state === 'down') return;
    state = 'down';
    downSince = now();
    counters.outages++;
    logger.warn({ redis: where, reason }, `Redis is unreachable: falling back to the store${options.fallbackNote ? ` (${options.fallbackNote})` : ''}; retrying in the background`);
  }

  function evaluate(): void {
    const alive = subscribed && now() - heardAt <= SILENCE_MS;
    if (alive) goUp();
    else if (state === 'up') goDown('no heartbeat for 3 s');
    else if (state === 'connecting' && now() - startedAt > SILENCE_MS) goDown('not reachable at start');
  }

  function beat(): void {
    if (commands.status !== 'ready') return;
    commands.publish(heartbeatChannel, '1').catch(() => {});
  }

  let ticker: NodeJS.Timeout | undefined;

  subscriber.on('ready', () => {
    subscriber.subscribe(changesChannel, heartbeatChannel).then(
      () => {
        subscribed = true;
        beat();
      },
      (err: unknown) => logger.debug({ err }, 'redis subscribe failed; retried on the next connection'),
    );
  });
  subscriber.on('message', (channel: string, message: string) => {
    if (channel === heartbeatChannel) {
      heardAt = now();
      if (state !== 'up') evaluate();
      return;
    }
    if (channel !== changesChannel) return;
    const wire = parseWire(message);
    if (!wire || wire.from === instance) return;
    if ('resync' in wire) for (const listener of resyncListeners) listener();
    else for (const listener of listeners) listener(wire.change);
  });
  commands.on('ready', beat);
  for (const [name, connection] of [['subscription', subscriber], ['commands', commands]] as const) {
    // Without a listener ioredis prints every failed reconnect to stderr; the state says it once.
    connection.on('error', (err: Error) => logger.debug({ err, connection: name }, 'redis connection error'));
    connection.on('close', () => {
      if (connection === subscriber) {
        subscribed = false;
        heardAt = -Infinity;
      }
      if (state === 'up') goDown(`${name} connection closed`);
    });
  }

  function send(message: string): void {
    if (state !== 'up') return keep(message);
    commands.publish(changesChannel, message).catch(() => {
      counters.publishErrors++;
      keep(message);
    });
  }

  function keep(message: string): void {
    if (pendingOverflowed) return;
    if (pending.length >= MAX_PENDING) {
      // Too many to replay one by one: the others drop everything instead.
      pending = [];
      pendingOverflowed = true;
      return;
    }
    pending.push(message);
  }

  function flushPending(): void {
    const messages = pendingOverflowed ? [JSON.stringify({ from: instance, resync: true } satisfies Wire)] : pending;
    pending = [];
    pendingOverflowed = false;
    for (const message of messages) send(message);
  }

  const bus: ChangeBus = {
    publish(change) {
      options.local.publish(change);
      send(JSON.stringify({ from: instance, change } satisfies Wire));
    },
    subscribe(listener) {
      options.local.subscribe(listener);
      listeners.add(listener);
    },
    close: () => options.local.close(),
  };

  const lock = createRedisLock({ redis: commands, keyPrefix, local: options.localLock, isUp: status.up, onError: () => counters.lockErrors++ });

  return {
    status,
    bus,
    lock,
    readiness: { name: 'redis', required: false, check: async () => (state === 'up' ? 'ok' : 'degraded') },
    onResync(listener) {
      resyncListeners.add(listener);
    },
    start() {
      if (ticker || closed) return;
      startedAt = now();
      ticker = setInterval(() => {
        beat();
        evaluate();
      }, HEARTBEAT_MS);
      ticker.unref();
      for (const connection of [commands, subscriber]) connection.connect().catch(() => {});
    },
    async close() {
      closed = true;
      clearInterval(ticker);
      await bus.close();
      // quit() would wait for a server that may be gone; nothing is left to send.
      commands.disconnect();
      subscriber.disconnect();
    },
  };
}

function parseWire(message: string): Wire | null {
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || typeof (value as { from?: unknown }).from !== 'string') return null;
  const { from, change, resync } = value as { from: string; change?: unknown; resync?: unknown };
  if (resync === true) return { from, resync: true };
  const read = readChange(change);
  return read ? { from, change: read } : null;
}

/**
 * The link `config.redis` asks for, or null without `redis.url`. A password variable that is
 * named but not set stops start-up (the usual one-message config error).
 */
export function connectConfiguredRedis(
  config: { url?: string | undefined; password_env?: string | undefined; sentinel_password_env?: string | undefined; tls_ca_file?: string | undefined; key_prefix: string; outage_cache_ttl: number },
  deps: { logger: Logger; env: NodeJS.ProcessEnv; local: ChangeBus; localLock: KeyedLock; fallbackNote?: string },
): RedisLink | null {
  if (config.url === undefined) return null;
  const target = parseRedisUrl(config.url);
  const problems: string[] = [];
  if ('problem' in target) problems.push(`redis.url: ${target.problem}`);
  const secret = (setting: 'password_env' | 'sentinel_password_env') => {
    const name = config[setting];
    if (name === undefined) return undefined;
    const value = deps.env[name];
    if (!value) problems.push(`redis.${setting}: the environment variable ${name} is not set`);
    return value;
  };
  let ca: string | undefined;
  if (config.tls_ca_file !== undefined) {
    try {
      ca = readFileSync(config.tls_ca_file, 'utf8');
    } catch (err) {
      problems.push(`redis.tls_ca_file: cannot read ${config.tls_ca_file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  const secrets = { password: secret('password_env'), sentinelPassword: secret('sentinel_password_env'), ca };
  if (problems.length || 'problem' in target) throw new ConfigError(problems);
  return connectRedis({ target, secrets, keyPrefix: config.key_prefix, logger: deps.logger, local: deps.local, localLock: deps.localLock, ...(deps.fallbackNote ? { fallbackNote: deps.fallbackNote } : {}) });
}
