import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/**
 * GETs a JSON document from the app itself (not on a user's behalf): the gateway reads
 * `_dash-dependencies` this way to learn what the app's callbacks declare. Non-2xx answers,
 * bodies over `maxBytes` and time-outs reject.
 */
export function fetchUpstreamJson(upstream: string, path: string, options: { headers?: Record<string, string>; timeoutMs: number; maxBytes?: number }): Promise<unknown> {
  const base = new URL(upstream);
  const send = base.protocol === 'https:' ? httpsRequest : httpRequest;
  const maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const req = send(
      { host: base.hostname, port: base.port || undefined, method: 'GET', path: base.pathname.replace(/\/+$/, '') + path, headers: { accept: 'application/json', ...options.headers }, timeout: options.timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) return req.destroy(new Error(`${path}: more than ${maxBytes} bytes`));
          chunks.push(chunk);
        });
        res.on('error', reject);
        res.on('end', () => {
          if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) return reject(new Error(`${path}: the app answered ${res.statusCode}`));
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch (err) {
            reject(new Error(`${path}: not JSON`, { cause: err }));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${path}: no answer in ${options.timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
