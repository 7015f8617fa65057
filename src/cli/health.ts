import type { Command } from 'commander';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { UsageError } from '../errors.js';
import { configFromFlags, type CommonFlags } from './shared-options.js';

interface HealthFlags extends CommonFlags {
  ready?: boolean;
  url?: string;
  timeout: string;
}

/**
 * `dashgate health [--ready]`: asks a running gateway (this host's, from the configuration, or
 * --url) for liveness or readiness and exits 0 when it answers 200: the probe for images without
 * curl (Docker HEALTHCHECK, Kubernetes exec probes).
 */
export function registerHealthCommand(program: Command, out: (line: string) => void): void {
  program
    .command('health')
    .description('check a running gateway: exit 0 when /_dashgate/health (or /ready with --ready) answers 200')
    .option('-c, --config <file>', 'configuration file (default: ./dashgate.yaml when present)')
    .option('-p, --port <port>', 'port the gateway listens on (default: from the configuration, 8000)')
    .option('--ready', 'readiness (store, app, Redis) instead of liveness')
    .option('--url <url>', 'the gateway to ask, e.g. http://127.0.0.1:8000 (default: this host, the configured port)')
    .option('--timeout <seconds>', 'how long to wait for the answer', '3')
    .action(async (flags: HealthFlags) => {
      const config = configFromFlags(flags);
      const base = flags.url ?? `${config.server.tls ? 'https' : 'http'}://${['0.0.0.0', '::', ''].includes(config.server.host) ? '127.0.0.1' : config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host}:${config.server.port}`;
      let target: URL;
      try {
        target = new URL(`${base.replace(/\/+$/, '')}${config.prefix}/${flags.ready ? 'ready' : 'health'}`);
      } catch {
        throw new UsageError(`--url must be a URL like http://127.0.0.1:8000, got "${flags.url}"`);
      }
      const answer = await ask(target, Number(flags.timeout) * 1000);
      out(answer.body || `${answer.status ?? 'no answer'}`);
      if (answer.status !== 200) throw new HealthFailure(answer.status === null ? `no answer from ${target.href}: ${answer.error}` : `${target.href} answered ${answer.status}`);
    });
}

/** A probe that failed: exit code 1, one line. */
export class HealthFailure extends Error {
  readonly code = 'UNHEALTHY';
}

function ask(url: URL, timeoutMs: number): Promise<{ status: number | null; body: string; error?: string }> {
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    // A gateway asked over loopback with its own certificate: no name to verify it against.
    const req = send(url, { method: 'GET', timeout: timeoutMs, ...(url.protocol === 'https:' ? { rejectUnauthorized: false } : {}) }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk.slice(0, 4096)));
      res.on('end', () => resolve({ status: res.statusCode ?? null, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => resolve({ status: null, body: '', error: err.message }));
    req.end();
  });
}
