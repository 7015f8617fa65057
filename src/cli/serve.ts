import type { Logger } from 'pino';
import { buildApp, type Gateway } from '../app.js';
import type { Config } from '../config/schema.js';
import { createLogger } from '../log.js';
import { openConfiguredStore } from './shared-options.js';
import type { KeyedLock } from '../auth/keyed-mutex.js';
import type { ChangeBus } from '../ops/change-bus.js';
import { createClusterBus, createClusterLock, onReloadRequest, onShutdownRequest, startWorkerPool } from '../ops/workers.js';
import { serveMetrics } from '../ops/metrics.js';
import { ConfigError } from '../errors.js';

export interface RunningGateway {
  /** The gateway serving now (another one after a reload). */
  readonly gateway: Gateway;
  url: string;
  logger: Logger;
  stop(): Promise<void>;
  /** Reads the configuration again and serves with it; false (and the problems logged) when it is not valid. */
  reload(): Promise<boolean>;
}

/** Settings a running gateway cannot change: where it listens, its data, its workers and metrics listener. */
const RESTART_ONLY = [
  'server.host', 'server.port', 'server.tls', 'server.workers',
  // The listening server keeps the limits it was created with, and the process its logger.
  'server.headers_timeout', 'server.request_timeout', 'server.keep_alive_timeout', 'server.max_header_bytes', 'server.max_headers_count', 'log',
  // Changed live, they would move the gateway's own routes or rename the session cookie under signed-in browsers.
  'prefix', 'session.cookie_name', 'server.public_url',
  'database', 'data_dir', 'metrics',
] as const;

/** `next` with the restart-only settings of `running`, and the names of those that differed. */
function reloadable(running: Config, next: Config): { config: Config; ignored: string[] } {
  const read = (config: Config, path: string) => JSON.stringify(path.split('.').reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], config));
  const ignored = RESTART_ONLY.filter((path) => read(running, path) !== read(next, path));
  const server = running.server;
  const config: Config = {
    ...next,
    server: {
      ...next.server,
      host: server.host, port: server.port, tls: server.tls, workers: server.workers, public_url: server.public_url,
      headers_timeout: server.headers_timeout, request_timeout: server.request_timeout, keep_alive_timeout: server.keep_alive_timeout,
      max_header_bytes: server.max_header_bytes, max_headers_count: server.max_headers_count,
    },
    session: { ...next.session, cookie_name: running.session.cookie_name },
    log: running.log,
    prefix: running.prefix,
    database: running.database,
    data_dir: running.data_dir,
    metrics: running.metrics,
  };
  return { config, ignored };
}

/** Reads the configuration for a reload; null (the problems logged, one line) when it is not valid. */
export function readReloadedConfig(read: () => Config, logger: Logger): Config | null {
  try {
    return read();
  } catch (err) {
    const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
    logger.error({ problems }, `configuration not reloaded, still running with the previous one: ${problems.join('; ')}`);
    return null;
  }
}

/**
 * Opens the store, builds the gateway and listens. Prints the one-time setup link when there is
 * no user yet, and warns when cookies cannot be Secure (plain HTTP).
 */
export async function startGateway(config: Config, logger: Logger = createLogger(config.log), options: { bus?: ChangeBus; lock?: KeyedLock; announce?: boolean; reloadConfig?: () => Config } = {}): Promise<RunningGateway> {
  const servesMetrics = config.metrics.listen !== undefined && !options.lock;
  const token = servesMetrics ? metricsToken(config) : null;
  const store = await openConfiguredStore(config, logger);
  let gateway: Gateway;
  try {
    gateway = await buildApp(config, { store, logger, ...(options.bus ? { bus: options.bus } : {}), ...(options.lock ? { lock: options.lock } : {}) });
    await gateway.app.listen({ port: config.server.port, host: config.server.host });
  } catch (err) {
    await store.close();
    throw err;
  }
  const address = gateway.app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
  const url = config.server.public_url ?? `${config.server.tls ? 'https' : 'http'}://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  // The metrics listener: here, unless this is a worker of server.workers (the primary serves them all).
  const metricsListener = gateway.metrics && servesMetrics
    ? await serveMetrics({ listen: config.metrics.listen!, token, collect: async () => ({ contentType: gateway.metrics!.registry.contentType, body: await gateway.metrics!.registry.metrics() }), onError: (err) => logger.error({ err }, 'metrics could not be collected') }).catch(async (err: unknown) => {
        await gateway.close(0);
        await store.close();
        throw err;
      })
    : null;
  if (metricsListener) logger.info({ url: metricsListener.url }, 'metrics are served');
  let current = gateway;
  let running = config;
  const stop = async () => {
    await current.close();
    await metricsListener?.close();
    await store.close();
  };
  // SIGHUP: a new gateway from the new configuration on the same store (sessions live there) and
  // the same listening server (connections stay open); the old one stops serving once it is ready.
  let reloading: Promise<boolean> | null = null;
  const reload = (): Promise<boolean> =>
    (reloading ??= (async () => {
      const read = readReloadedConfig(options.reloadConfig ?? (() => running), logger);
      if (!read) return false;
      const { config: next, ignored } = reloadable(running, read);
      if (ignored.length) logger.warn({ settings: ignored }, `these settings change only at a restart: ${ignored.join(', ')}`);
      let built: Gateway;
      try {
        built = await buildApp(next, { store, logger, server: current.app.server, metrics: current.metrics, ...(options.bus ? { bus: options.bus } : {}), ...(options.lock ? { lock: options.lock } : {}) });
        await built.app.ready();
      } catch (err) {
        const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
        logger.error({ problems }, `configuration not reloaded, still running with the previous one: ${problems.join('; ')}`);
        return false;
      }
      const previous = current;
      built.attach();
      previous.retire();
      current = built;
      running = next;
      logger.info('configuration reloaded');
      return true;
    })().finally(() => (reloading = null)));
  const handle: RunningGateway = {
    get gateway() {
      return current;
    },
    url,
    logger,
    stop,
    reload,
  };
  // Worker processes after the first say nothing at start: one announcement (and one setup link) per gateway.
  if (options.announce === false) return handle;
  logger.info({ url, upstream: config.upstream, database: store.dialect }, `Dashgate is guarding ${config.upstream} at ${url}`);
  if (!url.startsWith('https:')) {
    logger.warn('Serving over plain HTTP: session cookies are not marked Secure. Put Dashgate behind HTTPS (and set server.public_url) before real use.');
  }
  for (const provider of config.sso.providers) {
    // What the admin registers at the provider; a mismatch is the most common SSO set-up failure.
    logger.info({ provider: provider.id, redirectUri: `${url.replace(/\/+$/, '')}${config.prefix}/sso/${provider.id}/callback` }, `single sign-on "${provider.id}": register this redirect URI at the provider`);
  }
  const setupLink = await gateway.setupLinkIfNeeded(url);
  if (setupLink) {
    // Printed to the terminal only, on purpose not through the logger (log shipping would keep the secret).
    process.stderr.write(`\n  No users yet. Open this one-time link (valid 1 hour) to create the first administrator:\n\n    ${setupLink}\n\n`);
  }
  return handle;
}

/**
 * Runs the gateway: in this process, or with `server.workers` > 1 as that many worker processes
 * on the same port, supervised from here (the store is migrated here first, once). `workerEnv`
 * reaches the workers' environment (what `run` decided: the app's address and secret).
 */
export async function startGateways(config: Config, logger: Logger, workerEnv: Record<string, string> = {}, reloadConfig?: () => Config): Promise<{ stop(): Promise<void>; reload(): Promise<boolean> }> {
  if (config.server.workers <= 1) return startGateway(config, logger, reloadConfig ? { reloadConfig } : {});
  const token = config.metrics.listen ? metricsToken(config) : null;
  const store = await openConfiguredStore(config, logger);
  await store.close();
  const pool = startWorkerPool({ count: config.server.workers, logger, env: workerEnv });
  logger.info({ workers: config.server.workers }, `starting ${config.server.workers} gateway workers`);
  // One scrape for all workers: prom-client's aggregator asks each worker over the cluster channel.
  let metricsListener: Awaited<ReturnType<typeof serveMetrics>> | null = null;
  if (config.metrics.listen) {
    const { AggregatorRegistry } = await import('prom-client');
    const aggregator = new AggregatorRegistry();
    metricsListener = await serveMetrics({ listen: config.metrics.listen, token, collect: async () => ({ contentType: aggregator.contentType, body: await aggregator.clusterMetrics() }), onError: (err) => logger.error({ err }, 'metrics could not be collected from the workers') });
    logger.info({ url: metricsListener.url }, 'metrics are served (all workers)');
  }
  return {
    stop: async () => {
      await pool.stop(config.server.drain_timeout + 5000);
      await metricsListener?.close();
    },
    // Checked here first, so a broken file is reported once; each worker then reloads itself.
    reload: async () => {
      if (!readReloadedConfig(reloadConfig ?? (() => config), logger)) return false;
      pool.reload();
      return true;
    },
  };
}

/**
 * A worker process of `server.workers`: the gateway, with the change bus and the credential lock
 * held by the primary; it stops when the primary asks (the primary alone handles signals).
 */
export async function runWorker(config: Config, logger: Logger, reloadConfig?: () => Config): Promise<void> {
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  process.on('SIGHUP', () => {});
  const running = await startGateway(config, logger, { bus: createClusterBus(), lock: createClusterLock(), announce: process.env.DASHGATE_WORKER_ID === '1', ...(reloadConfig ? { reloadConfig } : {}) });
  onReloadRequest(() => running.reload());
  if (running.gateway.metrics) {
    // Constructing one is what makes prom-client answer the primary's requests in this worker.
    const { AggregatorRegistry } = await import('prom-client');
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries([running.gateway.metrics.registry]);
  }
  onShutdownRequest(async () => {
    await running.stop();
    process.exit(0);
  });
}

/** The scrapers' token, when metrics.token_env names one; a named variable that is empty stops start-up. */
function metricsToken(config: Config, env: NodeJS.ProcessEnv = process.env): string | null {
  const name = config.metrics.token_env;
  if (name === undefined) return null;
  const token = env[name];
  if (!token) throw new ConfigError([`metrics.token_env: the environment variable ${name} is not set`]);
  if (token.length < 16) throw new ConfigError([`metrics.token_env: ${name} must hold at least 16 characters`]);
  return token;
}

/** SIGHUP reloads the configuration (a bad file is reported and the gateway keeps running as it was). */
export function reloadOnHangup(reload: () => Promise<boolean>, logger: Logger): void {
  process.on('SIGHUP', () => {
    logger.info({ signal: 'SIGHUP' }, 'reloading the configuration');
    reload().catch((err: unknown) => logger.error({ err }, 'reload failed; still running with the previous configuration'));
  });
}

/** Runs `stop` with the signal received (SIGINT/SIGTERM), once; a second signal exits at once. */
export function stopOnSignals(stop: (signal: NodeJS.Signals) => Promise<void>, logger: Logger): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    logger.info({ signal }, 'shutting down');
    stop(signal).then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
