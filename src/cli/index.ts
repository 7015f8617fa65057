import cluster from 'node:cluster';
import { VERSION } from '../version.js';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { rotateIdentityKeys } from '../auth/identity-jwt.js';
import { createSetupToken } from '../auth/setup-link.js';
import { createDemoUpstream } from '../demo/upstream.js';
import type { Config } from '../config/schema.js';
import { AccountError } from '../accounts/errors.js';
import { ConfigError, UsageError } from '../errors.js';
import { createLogger } from '../log.js';
import { ChildApp } from '../runner/child.js';
import { findFreePort } from '../runner/free-port.js';
import { reloadOnHangup, runWorker, startGateway, startGateways, stopOnSignals } from './serve.js';
import { addServerOptions, addStoreOptions, configFromFlags, openConfiguredStore, type CommonFlags } from './shared-options.js';
import { registerGroupCommands } from './groups.js';
import { registerTokenCommands } from './tokens.js';
import { registerAccessCommands } from './access.js';
import { registerInviteCommands } from './invites.js';
import { registerUserCommands } from './users.js';
import { HealthFailure, registerHealthCommand } from './health.js';

/** Builds the `dashgate` command line. */
export function buildProgram(out: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): Command {
  const program = new Command('dashgate')
    .description('Authentication gateway for Plotly Dash apps: a login page, sessions and users in front of an unchanged app.')
    .version(VERSION)
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text.split('\n')[0] + '\n') });

  addServerOptions(program.command('serve').description('guard an app that already runs'))
    .option('-u, --upstream <url>', 'URL of the app to protect, e.g. http://127.0.0.1:8050')
    .action(async (flags: CommonFlags) => {
      const config = configFromFlags(flags);
      if (!config.upstream) throw new UsageError('no upstream: pass --upstream http://127.0.0.1:8050 or set "upstream" in dashgate.yaml');
      const logger = createLogger(config.log);
      const reloadConfig = () => configFromFlags(flags);
      if (cluster.isWorker) return runWorker(config, logger, reloadConfig);
      const running = await startGateways(config, logger, {}, reloadConfig);
      stopOnSignals(running.stop, logger);
      reloadOnHangup(running.reload, logger);
    });

  addServerOptions(program.command('run').description('start the app on a private port and guard it: dashgate run -- python app.py'))
    .argument('<command...>', 'the command that starts the app; {port} is replaced by its port, {socket} by a Unix socket path')
    .option('--start-timeout <seconds>', 'how long the app may take to answer', '60')
    .action(async (command: string[], flags: CommonFlags & { startTimeout: string }) => {
      // A worker of server.workers: the primary started the app and put its address in the environment.
      if (cluster.isWorker) {
        const config = configFromFlags(flags);
        return runWorker(config, createLogger(config.log), () => configFromFlags(flags));
      }
      const port = await findFreePort();
      // `{socket}` in the command: the app listens on a Unix socket in a directory only this user
      // can enter (cheaper than TCP for servers that open a connection per request).
      const socketPath = command.some((part) => part.includes('{socket}')) ? join(mkdtempSync(join(tmpdir(), 'dashgate-app-')), 'app.sock') : undefined;
      const upstream = socketPath ? `unix:${socketPath}` : `http://127.0.0.1:${port}`;
      let config = configFromFlags(flags, { upstream });
      if (config.identity_jwt.enabled && !config.identity_jwt.app_secret_env) {
        // A secret shared with this app only (unless one is configured): the Python helper checks
        // X-Dashgate-App-Token with it and refuses requests that reached the app's port directly.
        process.env.DASHGATE_APP_SECRET ||= randomBytes(32).toString('base64url');
        config = configFromFlags(flags, { upstream, identity_jwt: { app_secret_env: 'DASHGATE_APP_SECRET' } });
      }
      const runOverrides = { upstream, ...(config.identity_jwt.app_secret_env === 'DASHGATE_APP_SECRET' && process.env.DASHGATE_APP_SECRET ? { identity_jwt: { app_secret_env: 'DASHGATE_APP_SECRET' } } : {}) };
      const logger = createLogger(config.log);
      const child = new ChildApp({ command, port, ...(socketPath ? { socketPath } : {}), logger, startTimeoutMs: Number(flags.startTimeout) * 1000, env: { ...process.env, ...helperEnvironment(config) } });
      logger.info({ command: command.join(' '), ...(socketPath ? { socket: socketPath } : { port }) }, 'starting the app');
      try {
        await child.start();
      } catch (err) {
        await child.stop();
        throw new UsageError((err as Error).message);
      }
      const workerEnv: Record<string, string> = { DASHGATE_UPSTREAM: upstream };
      if (config.identity_jwt.app_secret_env) workerEnv.DASHGATE_IDENTITY_JWT__APP_SECRET_ENV = config.identity_jwt.app_secret_env;
      const running = await startGateways(config, logger, workerEnv, () => configFromFlags(flags, runOverrides));
      // The app gets the signal the gateway got (Ctrl-C stays SIGINT), after the gateway stops taking requests.
      stopOnSignals(async (signal) => {
        await running.stop();
        await child.stop(signal);
        if (socketPath) rmSync(dirname(socketPath), { recursive: true, force: true });
      }, logger);
      reloadOnHangup(running.reload, logger);
    });

  addServerOptions(program.command('demo').description('see Dashgate in front of a small bundled demo app'))
    .action(async (flags: CommonFlags) => {
      const upstream = createDemoUpstream();
      await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
      const address = upstream.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      const dataDir = flags.dataDir ?? mkdtempSync(join(tmpdir(), 'dashgate-demo-'));
      const config = configFromFlags({ ...flags, dataDir }, { upstream: `http://127.0.0.1:${port}`, branding: { app_name: 'Dashgate demo' } });
      const running = await startGateway(config);
      running.logger.info({ dataDir }, 'demo data directory');
      reloadOnHangup(running.reload, running.logger);
      stopOnSignals(async () => {
        await running.stop();
        upstream.close();
      }, running.logger);
    });

  addStoreOptions(program.command('setup-link').description('print a new one-time link that creates the first administrator'))
    .option('--base-url <url>', 'address users reach Dashgate at', 'http://127.0.0.1:8000')
    .action(async (flags: CommonFlags & { baseUrl: string }) => {
      const config = configFromFlags(flags);
      const store = await openConfiguredStore(config);
      try {
        if ((await store.users.count()) > 0) throw new UsageError('users already exist; add more with "dashgate users add"');
        const token = await createSetupToken(store, Date.now);
        out(`${(config.server.public_url ?? flags.baseUrl).replace(/\/+$/, '')}${config.prefix}/setup?token=${token}`);
      } finally {
        await store.close();
      }
    });

  const keys = program.command('keys').description('signing keys of the identity JWT (X-Dashgate-Jwt)');
  addStoreOptions(keys.command('rotate').description('start signing with a new key; the old one stays published for a day'))
    .action(async (flags: CommonFlags) => {
      const store = await openConfiguredStore(configFromFlags(flags));
      try {
        const kid = await rotateIdentityKeys(store, Date.now);
        await store.audit.record({ action: 'keys.rotated', actor: 'cli', target: kid });
        out(`new signing key ${kid}; running gateways switch to it within a minute`);
      } finally {
        await store.close();
      }
    });

  registerHealthCommand(program, out);
  registerUserCommands(program, out);
  registerGroupCommands(program, out);
  registerTokenCommands(program, out);
  registerAccessCommands(program, out);
  registerInviteCommands(program, out);
  for (const command of program.commands) command.exitOverride().configureOutput({ outputError: (text, write) => write(text.split('\n')[0] + '\n') });
  return program;
}

/**
 * Settings for the Python helper in the app that `dashgate run` starts: where to verify
 * X-Dashgate-Jwt (the gateway's JWKS over loopback), the audience, issuer and route prefix.
 */
function helperEnvironment(config: Config): Record<string, string> {
  const env: Record<string, string> = { DASHGATE_APP_PREFIX: config.prefix };
  if (!config.identity_jwt.enabled) return env;
  const secretName = config.identity_jwt.app_secret_env;
  if (secretName && process.env[secretName]) {
    env.DASHGATE_APP_SECRET = process.env[secretName]!;
    env.DASHGATE_APP_REQUIRE_GATEWAY = '1';
  }
  env.DASHGATE_APP_AUDIENCE = config.identity_jwt.audience;
  env.DASHGATE_APP_ISSUER = config.identity_jwt.issuer ?? config.server.public_url ?? 'dashgate';
  if (config.server.tls) return env;
  const host = ['0.0.0.0', '::', ''].includes(config.server.host) ? '127.0.0.1' : config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
  env.DASHGATE_APP_JWKS_URL = `http://${host}:${config.server.port}${config.prefix}/.well-known/jwks.json`;
  return env;
}

/** Runs the CLI; returns the exit code (2 for usage and configuration mistakes). */
export async function runCli(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof UsageError || err instanceof AccountError) {
      process.stderr.write(`dashgate: ${err.message}\n`);
      return 2;
    }
    if (err instanceof HealthFailure) {
      process.stderr.write(`dashgate: ${err.message}\n`);
      return 1;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`dashgate: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`dashgate: ${(err as Error).message ?? String(err)}\n`);
    return 1;
  }
}
