import { createServer, type IncomingMessage, type Server } from 'node:http';

/**
 * The bundled demo app for `dashgate demo`: a page that shows which identity the gateway
 * handed over, and a button that calls a JSON endpoint the way a Dash callback does (so an
 * expired session shows the in-page sign-in dialog).
 */
export function createDemoUpstream(): Server {
  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://demo.invalid');
    if (url.pathname === '/api/whoami') {
      const body = JSON.stringify({ identity: identityOf(req), time: new Date().toISOString() });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    if (url.pathname !== '/') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    const identity = identityOf(req);
    const rows = Object.entries(identity)
      .map(([name, value]) => `<tr><th scope="row"><code>${escape(name)}</code></th><td>${escape(value)}</td></tr>`)
      .join('');
    const page = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Dashgate demo app</title>
<style>body{font:16px system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem;color:#1b2330}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4rem;border-bottom:1px solid #ddd}
button{font:inherit;padding:.5rem 1rem;border-radius:8px;border:1px solid #1f5fbf;background:#1f5fbf;color:#fff;cursor:pointer}
pre{background:#f4f6f9;padding:1rem;border-radius:8px;min-height:3rem}</style></head>
<body><h1>Hello, <span id="who">${escape(identity['x-forwarded-preferred-username'] ?? 'stranger')}</span></h1>
<p>This demo app knows nothing about passwords. Dashgate signed you in and handed your identity over in request headers:</p>
<table>${rows}</table>
<h2>Like a Dash callback</h2>
<p>The button fetches <code>/api/whoami</code>. End your session from another tab (sign out there) and press it again: an in-page dialog signs you back in and the call goes through.</p>
<button id="call" type="button">Call the app</button><pre id="out" aria-live="polite"></pre>
<script>document.getElementById('call').addEventListener('click',function(){fetch('/api/whoami',{headers:{Accept:'application/json'}}).then(function(r){return r.json()}).then(function(d){document.getElementById('out').textContent=JSON.stringify(d,null,2)})});</script>
</body></html>`;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(page) });
    res.end(page);
  });
}

function identityOf(req: IncomingMessage): Record<string, string> {
  const names = ['x-forwarded-user', 'x-forwarded-email', 'x-forwarded-preferred-username', 'x-forwarded-groups', 'x-forwarded-for', 'x-forwarded-proto'];
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = req.headers[name];
    if (typeof value === 'string') out[name] = value;
  }
  return out;
}

function escape(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
