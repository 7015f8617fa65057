import assert from 'node:assert/strict';
import { request } from 'node:http';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';
import { ChildApp } from '../../src/runner/child.js';
import { findFreePort } from '../../src/runner/free-port.js';

function collectingLogger() {
  const lines: Array<{ level: number; msg: string; [key: string]: unknown }> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

function get(port: number, path = '/'): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

async function until(check: () => Promise<boolean>): Promise<void> {
  for (;;) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

// A tiny app that reads HOST/PORT like Dash's app.run() does; /die makes it exit.
const APP = `
const http = require('http');
const host = process.argv[1] || process.env.HOST;
http.createServer((req, res) => {
  if (req.url === '/die') { res.end('bye'); setTimeout(() => process.exit(3), 10); return; }
  res.end('pid ' + process.pid + ' on ' + host + ':' + process.env.PORT);
}).listen(Number(process.env.PORT), host);
`;

describe('dashgate run: the child app', () => {
  it('starts the app on the given loopback port with HOST and PORT set, restarts it when it dies, and stops it', { timeout: 30_000 }, async () => {
    const port = await findFreePort();
    const { logger, lines } = collectingLogger();
    const child = new ChildApp({ command: [process.execPath, '-e', APP], port, logger });
    await child.start();
    const first = await get(port);
    assert.match(first, new RegExp(`on 127\\.0\\.0\\.1:${port}$`));

    await get(port, '/die');
    await until(async () => (await get(port)) !== first);
    assert.notEqual(await get(port), first, 'a new process answers');
    assert.ok(lines.some((l) => l.msg === 'the app exited; restarting' && l.code === 3));

    await child.stop();
    await assert.rejects(get(port), 'the app is gone after stop');
    assert.equal(lines.filter((l) => /SECURITY WARNING/.test(l.msg)).length, 0, 'no warning for a loopback-only app');
  });

  it('replaces {port} in the command', { timeout: 30_000 }, async () => {
    const port = await findFreePort();
    const { logger } = collectingLogger();
    const child = new ChildApp({ command: [process.execPath, '-e', APP.replace('Number(process.env.PORT)', 'Number(process.argv[2])'), '127.0.0.1', '{port}'], port, logger });
    try {
      await child.start();
      assert.match(await get(port), /on 127\.0\.0\.1:/);
    } finally {
      await child.stop();
    }
  });

  it('warns loudly when the app also listens on a non-loopback address', { timeout: 30_000 }, async (t) => {
    const port = await findFreePort();
    const { logger, lines } = collectingLogger();
    const child = new ChildApp({ command: [process.execPath, '-e', APP, '0.0.0.0'], port, logger });
    try {
      await child.start();
    } finally {
      await child.stop();
    }
    if (process.platform !== 'linux') return t.skip('listening sockets are read from /proc/net on Linux only');
    const warning = lines.find((l) => /SECURITY WARNING/.test(l.msg));
    assert.ok(warning, 'warning logged');
    assert.deepEqual(warning.addresses, ['0.0.0.0']);
  });

  it('fails clearly when the app exits before answering', { timeout: 30_000 }, async () => {
    const port = await findFreePort();
    const { logger } = collectingLogger();
    const child = new ChildApp({ command: [process.execPath, '-e', 'process.exit(4)'], port, logger });
    await assert.rejects(child.start(), /exited \(code 4\) before it answered/);
    await child.stop();
  });
});
