import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * nginx and Caddy from Debian's packages in front of an app, with Dashgate as their
 * authentication service, started on free ports from config files generated in a temporary
 * directory. The configs are the ones docs/forward-auth.md shows (with addresses filled in).
 */
export interface FrontProxy {
  /** The address probed until the proxy answered. */
  url: string;
  /** The generated configuration, for failure messages. */
  config: string;
  /** What the proxy wrote to its error log (nginx) or stderr (Caddy). */
  log(): string;
  close(): Promise<void>;
}

/** The identity headers Dashgate answers with; the front proxy copies them onto the app's request. */
export const IDENTITY_HEADERS = ['X-Forwarded-User', 'X-Forwarded-Email', 'X-Forwarded-Preferred-Username', 'X-Forwarded-Groups', 'Remote-User', 'Remote-Email', 'Remote-Name', 'Remote-Groups', 'X-Dashgate-Jwt', 'X-Dashgate-App-Token'];

/** The nginx `server` block of docs/forward-auth.md: `gateway` and `app` are host:port. */
export function nginxServerBlock(options: { port: number; gateway: string; app: string }): string {
  const copy = IDENTITY_HEADERS.map((name) => {
    const variable = `dashgate_${name.toLowerCase().replaceAll('-', '_')}`;
    return `            auth_request_set $${variable} $upstream_http_${name.toLowerCase().replaceAll('-', '_')};\n            proxy_set_header ${name} $${variable};`;
  }).join('\n');
  return `
    server {
        listen 127.0.0.1:${options.port};

        # The gateway's own pages (sign-in, sign-out, account): on the app's host, so the
        # session cookie is the app's. Never behind auth_request.
        location /_dashgate/ {
            proxy_pass http://${options.gateway};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            # The check reached this way would name whatever the client wrote: name nothing.
            proxy_set_header X-Forwarded-Uri "";
            proxy_set_header X-Forwarded-Method "";
            proxy_set_header X-Forwarded-Host "";
        }

        # The check itself: only nginx reaches it (internal). The original request is named in
        # X-Forwarded-*, set here, so whatever a client sent under those names is replaced.
        location = /_dashgate_check {
            internal;
            proxy_pass http://${options.gateway}/_dashgate/auth/nginx;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Forwarded-Method $request_method;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_set_header X-Forwarded-Uri $request_uri;
            proxy_set_header X-Forwarded-For $remote_addr;
        }

        # Not signed in: Dashgate answered 401, with X-Dashgate-Redirect for a browser.
        location @dashgate_sign_in {
            if ($dashgate_redirect = "") { return 401; }
            return 302 $dashgate_redirect;
        }

        location / {
            auth_request /_dashgate_check;
            auth_request_set $dashgate_redirect $upstream_http_x_dashgate_redirect;
            error_page 401 = @dashgate_sign_in;

            # The identity, from Dashgate's answer; an empty value removes a header a client sent.
${copy}
            # Headers some apps read as the original request: never from the client.
            proxy_set_header X-Original-URL "";
            proxy_set_header X-Original-Method "";
            proxy_set_header X-Rewrite-URL "";
            proxy_set_header X-Forwarded-Uri "";
            proxy_set_header X-Forwarded-Method "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_pass http://${options.app};
        }
    }
`;
}

/** The Caddy site of docs/forward-auth.md. */
export function caddySite(options: { port: number; gateway: string; app: string }): string {
  return `
http://127.0.0.1:${options.port} {
	route {
		# The gateway's own pages: on the app's host, never behind forward_auth.
		handle /_dashgate/* {
			reverse_proxy ${options.gateway} {
				# The check reached this way would name whatever the client wrote: name nothing.
				header_up -X-Forwarded-Uri
				header_up -X-Forwarded-Method
			}
		}
		# Caddy before 2.10 leaves a client's copy of a header in place when the auth answer
		# lacks it (a public path, nobody signed in): remove every identity header first.
		request_header -X-Forwarded-User
		request_header -X-Forwarded-Email
		request_header -X-Forwarded-Preferred-Username
		request_header -X-Forwarded-Groups
		request_header -Remote-User
		request_header -Remote-Email
		request_header -Remote-Name
		request_header -Remote-Groups
		request_header -X-Dashgate-Jwt
		request_header -X-Dashgate-App-Token
		request_header -X-Original-URL
		request_header -X-Original-Method
		request_header -X-Rewrite-URL
		forward_auth ${options.gateway} {
			uri /_dashgate/auth
			copy_headers ${IDENTITY_HEADERS.join(' ')}
		}
		reverse_proxy ${options.app}
	}
}
`;
}

/** nginx with one `server` block per entry of `servers` (from nginxServerBlock). */
export async function startNginx(blocks: string[], probeUrl: string): Promise<FrontProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'dashgate-nginx-'));
  for (const sub of ['client', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub));
  const config = `
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path ${dir}/client;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    ${blocks.join('\n')}
}
`;
  writeFileSync(join(dir, 'nginx.conf'), config);
  const child = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  return started(child, probeUrl, config, () => safeRead(join(dir, 'error.log')), dir);
}

/** Caddy with the given Caddyfile sites (from caddySite), no admin endpoint, no automatic HTTPS. */
export async function startCaddy(sites: string[], probeUrl: string): Promise<FrontProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'dashgate-caddy-'));
  const config = `{\n\tadmin off\n\tauto_https off\n\tstorage file_system ${dir}/data\n}\n${sites.join('\n')}`;
  writeFileSync(join(dir, 'Caddyfile'), config);
  const child = spawn('caddy', ['run', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
    env: { ...process.env, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir },
  });
  return started(child, probeUrl, config, () => '', dir);
}

async function started(child: ChildProcess, url: string, config: string, readLog: () => string, dir: string): Promise<FrontProxy> {
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const proxy: FrontProxy = {
    url,
    config,
    log: () => `${readLog()}\n${stderr}`,
    async close() {
      if (child.exitCode === null && child.pid) {
        try {
          process.kill(-child.pid, 'SIGTERM');
        } catch {
          /* already gone */
        }
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (child.exitCode === null && child.pid) {
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) {
      const log = proxy.log();
      await proxy.close();
      throw new Error(`front proxy exited (${child.exitCode}):\n${log}\nconfig:\n${config}`);
    }
    try {
      await fetch(`${url}/_dashgate/health`, { signal: AbortSignal.timeout(1000) });
      return proxy;
    } catch {
      if (Date.now() > deadline) {
        const log = proxy.log();
        await proxy.close();
        throw new Error(`front proxy did not answer at ${url}:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
