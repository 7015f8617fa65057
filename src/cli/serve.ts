import type { Logger } from 'pino';
import { buildApp, type Gateway } from '../app.js';
import type { Config } from '../config/schema.js';
import { createLogger } from '../log.js';
import { openConfiguredStore } from './shared-options.js';

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
export async function startGateway(config: Config, logger: Logger = createLogger(config.log)): Promise<RunningGateway> {
  const store = await openConfiguredStore(config, logger);
  let gateway: Gateway;
  try {
    gateway = await buildApp(config, { store, logger });
    await gateway.app.listen({ port: config.server.port, host: config.server.host });
  } catch (err) {
    await store.close();
    throw err;
  }
  const address = gateway.app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
  const url = config.server.public_url ?? `${config.server.tls ? 'https' : 'http'}://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
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
  return {
    gateway,
    url,
    logger,
    async stop() {
      await gateway.close();
      await store.close();
    },
  };
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
