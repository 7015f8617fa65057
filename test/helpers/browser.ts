import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Locator } from 'playwright-core';
import { findFreePort } from '../../src/runner/free-port.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const UI_TIMEOUT_MS = 30_000;

/**
 * The venv's Python with dash and gunicorn: E2E_PYTHON, else .venv/bin/python in the repo.
 * (Not DASHGATE_*: every DASHGATE_ variable is read as a gateway setting.)
 */
export function testPython(): string {
  const configured = process.env.E2E_PYTHON ?? '.venv/bin/python';
  const python = isAbsolute(configured) ? configured : join(REPO_ROOT, configured);
  if (!existsSync(python)) {
    throw new Error(
      `end-to-end tests need a Python with dash and gunicorn, not found at ${python}. ` +
        'Create it with "python3 -m venv .venv && .venv/bin/pip install dash==4.4.1 gunicorn" (bash .ci/run does), or set E2E_PYTHON.',
    );
  }
  return python;
}

/** Debian's Chromium, headless, with the flags this machine's closed network needs. Never downloads a browser. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Aborts, and records in `offHost`, any request the pages make to a host other than 127.0.0.1. */
export async function holdToLoopback(context: BrowserContext, offHost: string[]): Promise<void> {
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1' || url.protocol === 'data:' || url.protocol === 'blob:') return route.continue();
    offHost.push(url.href);
    return route.abort('blockedbyclient');
  });
}

/** Waits until `locator` shows exactly `text`; on timeout, says what it showed instead. */
export async function expectText(locator: Locator, text: string): Promise<void> {
  const exactly = new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  try {
    await locator.filter({ hasText: exactly }).first().waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  } catch {
    const shown = await locator.first().textContent({ timeout: 1000 }).catch(() => null);
    assert.fail(`expected ${locator} to show "${text}", it shows ${shown === null ? 'nothing (not found)' : `"${shown}"`}`);
  }
}

/**
 * A Dash app (`app:server` in `dir`) under gunicorn on a free port, answering before this returns.
 * Its own process group, so stopProcessGroup ends the master and its workers together.
 */
export async function startGunicorn(dir: string, options: { workers?: number; env?: Record<string, string> } = {}): Promise<{ child: ChildProcess; url: string }> {
  const port = await findFreePort();
  const child = spawn(testPython(), ['-m', 'gunicorn', '-w', String(options.workers ?? 1), '-b', `127.0.0.1:${port}`, '--chdir', dir, 'app:server'], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', ...options.env },
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilAnswering(url, child, 60_000);
  } catch (err) {
    await stopProcessGroup(child);
    throw err;
  }
  return { child, url };
}

/**
 * A Dash app on its FastAPI backend (`app:server` in `dir`) under uvicorn on a free port: Dash 4's
 * WebSocket callbacks need it. uvicorn offers permessage-deflate, as in production.
 */
export async function startUvicorn(dir: string, options: { env?: Record<string, string> } = {}): Promise<{ child: ChildProcess; url: string }> {
  const port = await findFreePort();
  const child = spawn(testPython(), ['-m', 'uvicorn', '--app-dir', dir, '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warning', 'app:server'], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', DASH_BACKEND: 'fastapi', ...options.env },
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilAnswering(url, child, 60_000);
  } catch (err) {
    await stopProcessGroup(child);
    throw err;
  }
  return { child, url };
}

/** Polls `url` until it answers HTTP; fails at once if `child` exits first, with its stderr. */
async function waitUntilAnswering(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`gunicorn exited (${child.exitCode ?? child.signalCode}) before answering:\n${stderr}`);
    const answered = await fetch(url, { signal: AbortSignal.timeout(2000) }).then(
      async (res) => (await res.arrayBuffer(), true),
      () => false,
    );
    if (answered) return;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`gunicorn did not answer on ${url} within ${timeoutMs / 1000} s:\n${stderr}`);
}

/** SIGTERM to the whole group (gunicorn master and workers), SIGKILL if it lingers. */
export async function stopProcessGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  process.kill(-child.pid, 'SIGTERM');
  const kill = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 10_000);
  await exited;
  clearTimeout(kill);
}
