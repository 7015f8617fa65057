import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import type { SessionChange } from '../auth/sessions.js';
import { KeyedMutex, type KeyedLock } from '../auth/keyed-mutex.js';
import { readChange, type ChangeBus } from './change-bus.js';

/**
 * `server.workers: N`: N gateway processes on one port (node:cluster; each accepts connections
 * itself, SCHED_NONE, so the primary never touches a request). What must be shared is shared
 * through the primary: ended sessions and changed users (the change bus), and the lock every
 * credential check takes (without it, simultaneous guesses sent to two workers would each pass
 * the throttle's check before either counted). The store stays the source of truth.
 */

type Message =
  | { dashgate: 'change'; change: SessionChange }
  | { dashgate: 'lock'; id: number; keys: string[] }
  | { dashgate: 'unlock'; id: number }
  | { dashgate: 'locked'; id: number }
  | { dashgate: 'shutdown' }
  | { dashgate: 'reload' };

function isMessage(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && typeof (value as { dashgate?: unknown }).dashgate === 'string';
}

export interface WorkerPool {
  /** Asks every worker to stop (drain and exit), then waits for them; SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** Asks every worker to read the configuration again (each reloads itself, as after SIGHUP). */
  reload(): void;
}

/** In the primary: forks `count` workers, relays their changes and serves their lock, restarts one that dies. */
export function startWorkerPool(options: { count: number; logger: Logger; env?: Record<string, string> }): WorkerPool {
  const { logger } = options;
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  const mutex = new KeyedMutex();
  const held = new Map<string, () => void>();
  let stopping = false;

  function fork(index: number): void {
    const worker = cluster.fork({ ...options.env, DASHGATE_WORKER_ID: String(index) });
    worker.on('message', (message: unknown) => onMessage(worker, message));
    worker.on('exit', (code, signal) => {
      for (const [key, release] of held) if (key.startsWith(`${worker.id}:`)) release();
      if (stopping) return;
      logger.error({ worker: index, code, signal }, 'a gateway worker exited; starting another');
      setTimeout(() => fork(index), 1000).unref();
    });
  }

  function onMessage(from: Worker, message: unknown): void {
    if (!isMessage(message)) return;
    if (message.dashgate === 'change') {
      const change = readChange(message.change);
      if (!change) return;
      for (const worker of Object.values(cluster.workers ?? {})) if (worker && worker !== from && worker.isConnected()) worker.send({ dashgate: 'change', change });
    } else if (message.dashgate === 'lock' && Array.isArray(message.keys)) {
      const key = `${from.id}:${message.id}`;
      void mutex.run(message.keys.map(String), () =>
        new Promise<void>((release) => {
          held.set(key, () => {
            held.delete(key);
            release();
          });
          if (from.isConnected()) from.send({ dashgate: 'locked', id: message.id });
          else held.get(key)?.();
        }),
      );
    } else if (message.dashgate === 'unlock') {
      held.get(`${from.id}:${message.id}`)?.();
    }
  }

  for (let i = 1; i <= options.count; i++) fork(i);
  return {
    reload() {
      for (const worker of Object.values(cluster.workers ?? {})) if (worker?.isConnected()) worker.send({ dashgate: 'reload' });
    },
    async stop(graceMs = 30_000) {
      stopping = true;
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
      await Promise.all(
        workers.map(
          (worker) =>
            new Promise<void>((resolve) => {
              if (worker.isDead()) return resolve();
              const kill = setTimeout(() => worker.process.kill('SIGKILL'), graceMs);
              worker.once('exit', () => {
                clearTimeout(kill);
                resolve();
              });
              if (worker.isConnected()) worker.send({ dashgate: 'shutdown' });
              else worker.process.kill('SIGTERM');
            }),
        ),
      );
    },
  };
}

/** In a worker: the change bus, over the primary. */
export function createClusterBus(): ChangeBus {
  const listeners = new Set<(change: SessionChange) => void>();
  const onMessage = (message: unknown) => {
    if (!isMessage(message) || message.dashgate !== 'change') return;
    const change = readChange(message.change);
    if (change) for (const listener of listeners) listener(change);
  };
  process.on('message', onMessage);
  return {
    publish(change) {
      if (process.connected) process.send?.({ dashgate: 'change', change });
    },
    subscribe(listener) {
      listeners.add(listener);
    },
    async close() {
      process.off('message', onMessage);
    },
  };
}

/** In a worker: the credential lock, held in the primary for all workers. */
export function createClusterLock(): KeyedLock {
  let next = 0;
  const waiting = new Map<number, () => void>();
  process.on('message', (message: unknown) => {
    if (isMessage(message) && message.dashgate === 'locked') waiting.get(message.id)?.();
  });
  return {
    async run(keys, work) {
      const id = ++next;
      await new Promise<void>((resolve) => {
        waiting.set(id, resolve);
        process.send?.({ dashgate: 'lock', id, keys: [...keys] });
      });
      waiting.delete(id);
      try {
        return await work();
      } finally {
        process.send?.({ dashgate: 'unlock', id });
      }
    },
  };
}

/** In a worker: runs `stop` when the primary asks the worker to shut down. */
export function onShutdownRequest(stop: () => Promise<void>): void {
  process.on('message', (message: unknown) => {
    if (isMessage(message) && message.dashgate === 'shutdown') void stop();
  });
}

/** In a worker: runs `reload` when the primary passes on a SIGHUP. */
export function onReloadRequest(reload: () => Promise<unknown>): void {
  process.on('message', (message: unknown) => {
    if (isMessage(message) && message.dashgate === 'reload') void reload();
  });
}
