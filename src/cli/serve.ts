import type { Logger } from 'pino';
import { buildApp, type Gateway } from '../app.js';
import type { Config } from '../config/schema.js';
import { createLogger } from '../log.js';
import { openConfiguredStore } from './shared-options.js';
import type { KeyedLock } from '../auth/keyed-mutex.js';
import type { ChangeBus } from '../ops/change-bus.js';
import { createClusterBus, createClusterLock, onShutdownRequest, startWorkerPool } from '../ops/workers.js';
import { serveMetrics } from '../ops/metrics.js';
import { ConfigError } from '../errors.js';

export interface RunningGateway {
  gateway: Gateway;
  url: string;
  logger: Logger;
  stop(): Promise<void>;
}

/**
 * Opens the store, builds the gateway and listens. Prints the one-time setup link when there is
 * no user yet, and warns when cookies cannot be Secure (plain HTTP).
 */
export async function startGateway(config: Config, logger: Logger = createLogger(config.log), options: { bus?: ChangeBus; lock?: KeyedLock; announce?: boolean } = {}): Promise<RunningGateway> {
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
  const stop = async () => {
    await gateway.close();
    await metricsListener?.close();
    await store.close();
  };
  // Worker processes after the first say nothing at start: one announcement (and one setup link) per gateway.
  if (options.announce === false) return { gateway, url, logger, stop };
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
  return { gateway, url, logger, stop };
}

/**
 * Runs the gateway: in this process, or with `server.workers` > 1 as that many worker processes
 * on the same port, supervised from here (the store is migrated here first, once). `workerEnv`
 * reaches the workers' environment (what `run` decided: the app's address and secret).
 */
export async function startGateways(config: Config, logger: Logger, workerEnv: Record<string, string> = {}): Promise<{ stop(): Promise<void> }> {
  if (config.server.workers <= 1) return startGateway(config, logger);
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
  };
}

/**
 * A worker process of `server.workers`: the gateway, with the change bus and the credential lock
 * held by the primary; it stops when the primary asks (the primary alone handles signals).
 */
export async function runWorker(config: Config, logger: Logger): Promise<void> {
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  const running = await startGateway(config, logger, { bus: createClusterBus(), lock: createClusterLock(), announce: process.env.DASHGATE_WORKER_ID === '1' });
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
