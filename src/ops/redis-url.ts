import { isIP } from 'node:net';
import type { RedisOptions } from 'ioredis';

/**
 * Where Redis is, from `redis.url`. Four spellings:
 *
 *   redis://[user@]host[:port][/db]                       one server (port 6379)
 *   rediss://[user@]host[:port][/db]                      the same over TLS
 *   redis+sentinel://[user@]h1[:port],h2[:port]/name[/db] the primary named `name`, found through Sentinels (port 26379)
 *   rediss+sentinel://…                                   the same, TLS to the Sentinels and to the primary
 *
 * A password never goes in the URL (a URL in a config file is copied into logs, tickets and
 * commits): `redis.password_env` names the variable holding it, and `redis.sentinel_password_env`
 * the Sentinels' own, when they have one.
 */
export interface RedisTarget {
  kind: 'server' | 'sentinel';
  tls: boolean;
  /** The server, or the Sentinels in the order given. */
  hosts: Array<{ host: string; port: number }>;
  /** The Sentinel primary's name (sentinel only). */
  name?: string;
  db: number;
  username?: string;
}

const SCHEMES: Record<string, { kind: RedisTarget['kind']; tls: boolean; port: number }> = {
  'redis:': { kind: 'server', tls: false, port: 6379 },
  'rediss:': { kind: 'server', tls: true, port: 6379 },
  'redis+sentinel:': { kind: 'sentinel', tls: false, port: 26379 },
  'rediss+sentinel:': { kind: 'sentinel', tls: true, port: 26379 },
};

const EXPECTED = 'expected redis://host:6379, rediss://host:6379 (TLS) or redis+sentinel://host:26379,host2:26379/primary-name';

/** The target a `redis.url` names, or why it cannot be used (one sentence, for the config error list). */
export function parseRedisUrl(url: string): RedisTarget | { problem: string } {
  const match = /^([a-z+]+:)\/\/(?:([^@/]*)@)?([^/?#]*)(\/[^?#]*)?$/i.exec(url);
  const scheme = match ? SCHEMES[match[1]!.toLowerCase()] : undefined;
  if (!match || !scheme) return { problem: EXPECTED };
  const [, , userinfo, hostList, path = ''] = match;
  if (userinfo !== undefined && userinfo.includes(':')) {
    return { problem: 'a password does not belong in the URL (it would be logged and committed with the config): name the environment variable holding it in redis.password_env' };
  }
  const hosts: RedisTarget['hosts'] = [];
  for (const part of hostList!.split(',')) {
    const host = /^(?:\[([0-9a-f:.]+)\]|([A-Za-z0-9.-]+))(?::(\d{1,5}))?$/i.exec(part);
    const port = host?.[3] === undefined ? scheme.port : Number(host[3]);
    if (!host || port < 1 || port > 65535) return { problem: `"${part}" is not a host[:port]; ${EXPECTED}` };
    hosts.push({ host: host[1] ?? host[2]!, port });
  }
  if (scheme.kind === 'server' && hosts.length !== 1) return { problem: 'one host only; for several, list Sentinels with redis+sentinel://h1:26379,h2:26379/primary-name' };
  const segments = path.split('/').filter((s) => s.length > 0);
  const name = scheme.kind === 'sentinel' ? segments.shift() : undefined;
  if (scheme.kind === 'sentinel' && !name) return { problem: 'a Sentinel URL ends with the primary\'s name: redis+sentinel://h1:26379,h2:26379/mymaster' };
  if (segments.length > 1 || (segments.length === 1 && !/^\d{1,2}$/.test(segments[0]!))) return { problem: `"${path}": after the host${scheme.kind === 'sentinel' ? ' and the primary\'s name' : ''} only a database number may follow (/0 … /15)` };
  const target: RedisTarget = { kind: scheme.kind, tls: scheme.tls, hosts, db: segments.length ? Number(segments[0]) : 0 };
  if (name !== undefined) target.name = decodeURIComponent(name);
  if (userinfo) target.username = decodeURIComponent(userinfo);
  return target;
}

/** The target without secrets, for log lines: `redis+sentinel://a:26379,b:26379/mymaster/0`. */
export function describeRedisTarget(target: RedisTarget): string {
  const scheme = `${target.tls ? 'rediss' : 'redis'}${target.kind === 'sentinel' ? '+sentinel' : ''}`;
  const hosts = target.hosts.map((h) => `${h.host.includes(':') ? `[${h.host}]` : h.host}:${h.port}`).join(',');
  return `${scheme}://${hosts}${target.name ? `/${target.name}` : ''}/${target.db}`;
}

/**
 * ioredis options for the target. Commands fail at once while the connection is down (no offline
 * queue, one try): a sign-in must not wait for Redis to come back, it falls back to the store.
 * Reconnection never gives up (every 0.2 s … 2 s), so an instance recovers by itself.
 */
export function redisOptions(target: RedisTarget, secrets: { password?: string | undefined; sentinelPassword?: string | undefined; ca?: string | undefined } = {}): RedisOptions {
  const retryStrategy = (times: number) => Math.min(times * 200, 2000);
  // Without `ca`, the system's trusted authorities (and NODE_EXTRA_CA_CERTS) decide.
  const tls = secrets.ca ? { ca: secrets.ca } : {};
  const common: RedisOptions = {
    db: target.db,
    ...(target.username ? { username: target.username } : {}),
    ...(secrets.password ? { password: secrets.password } : {}),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: 2000,
    keepAlive: 10_000,
    autoResubscribe: false,
    retryStrategy,
    lazyConnect: true,
  };
  if (target.kind === 'server') {
    const [{ host, port }] = target.hosts as [{ host: string; port: number }];
    // RFC 6066 §3: SNI names hosts, never addresses.
    return { ...common, host, port, ...(target.tls ? { tls: { ...tls, ...(isIP(host) ? {} : { servername: host }) } } : {}) };
  }
  return {
    ...common,
    sentinels: target.hosts,
    name: target.name!,
    sentinelRetryStrategy: retryStrategy,
    ...(secrets.sentinelPassword ? { sentinelPassword: secrets.sentinelPassword } : {}),
    ...(target.tls ? { tls, sentinelTLS: tls, enableTLSForSentinelMode: true } : {}),
  };
}
