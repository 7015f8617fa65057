import { parseUpstream, type Upstream } from './upstream.js';

/**
 * GETs a JSON document from the app itself (not on a user's behalf): the gateway reads
 * `_dash-dependencies` this way to learn what the app's callbacks declare. Non-2xx answers,
 * bodies over `maxBytes` and time-outs reject.
 */
export function fetchUpstreamJson(upstream: Upstream | string, path: string, options: { headers?: Record<string, string>; timeoutMs: number; maxBytes?: number }): Promise<unknown> {
  const app = typeof upstream === 'string' ? parseUpstream(upstream) : upstream;
  const maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const req = app.request(
      { ...app.address, method: 'GET', path: app.basePath + path, headers: { accept: 'application/json', ...options.headers }, timeout: options.timeoutMs },
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
