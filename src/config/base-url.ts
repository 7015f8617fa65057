import type { Config } from './schema.js';

/** The gateway's address for links in emails and on the command line: public_url, else where it listens. */
export function gatewayBaseUrl(config: Pick<Config, 'server'>): string {
  if (config.server.public_url) return config.server.public_url.replace(/\/+$/, '');
  const host = config.server.host === '0.0.0.0' || config.server.host === '::' ? '127.0.0.1' : config.server.host;
  return `${config.server.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${config.server.port}`;
}
