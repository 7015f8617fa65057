import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { buildApp, type Gateway } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { openStore, type Store } from '../../src/store/store.js';
import { dropPostgresSchema, POSTGRES_URL } from './harness.js';

export interface Instance {
  name: string;
  gateway: Gateway;
  store: Store;
  url: string;
  /** Every log line this instance wrote (JSON objects). */
  logs: Array<Record<string, unknown>>;
}

/**
 * Several gateway instances on one PostgreSQL schema (each its own store connections, caches and
 * locks, as separate processes would have), in this process. `configs[i]` adds to the shared
 * `overrides` (e.g. `redis` for some, none for a control instance).
 */
export async function startInstances(upstream: string, overrides: ConfigInput, configs: Array<{ name: string; config?: ConfigInput }>): Promise<{ instances: Instance[]; schema: string; close(): Promise<void> }> {
  const schema = `dg_test_inst_${randomBytes(6).toString('hex')}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'dashgate-instances-'));
  const instances: Instance[] = [];
  // One at a time: the first creates the schema and migrates it.
  for (const { name, config: extra } of configs) {
    const config = parseConfig({ ...overrides, ...extra, upstream, data_dir: dataDir, log: { level: 'debug', format: 'json' } });
    const store = await openStore({ dataDir, url: POSTGRES_URL, schema });
    const logs: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const gateway = await buildApp(config, { store, logger: pino({ level: 'debug' }, sink) });
    await gateway.app.listen({ port: 0, host: '127.0.0.1' });
    instances.push({ name, gateway, store, url: `http://127.0.0.1:${(gateway.app.server.address() as AddressInfo).port}`, logs });
  }
  return {
    instances,
    schema,
    async close() {
      for (const instance of instances) {
        await instance.gateway.close();
        await instance.store.close();
      }
      rmSync(dataDir, { recursive: true, force: true });
      await dropPostgresSchema(schema);
    },
  };
}

/** A key prefix of its own, so parallel test runs sharing one Redis never see each other's keys or messages. */
export function uniqueKeyPrefix(): string {
  return `dgtest:${randomBytes(6).toString('hex')}:`;
}

/** Resolves once `ready()` is true, checking every 20 ms; fails after `capMs` (a generous cap, not a timing assertion). */
export async function waitFor(what: string, ready: () => boolean | Promise<boolean>, capMs = 20_000): Promise<void> {
  const deadline = Date.now() + capMs;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Signs out through the real form (the CSRF token from /api/session). */
export async function signOut(base: string, cookie: string): Promise<number> {
  const page = await fetch(`${base}/_dashgate/api/session`, { headers: { cookie } });
  const { csrf } = (await page.json()) as { csrf: string };
  const res = await fetch(`${base}/_dashgate/logout`, { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', origin: base }, body: new URLSearchParams({ csrf }) });
  return res.status;
}
