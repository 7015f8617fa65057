import type { CallbackOutput } from './dash-callbacks.js';

/** One input or state of a callback as the app declared it. */
export interface DeclaredDependency {
  id: CallbackOutput['id'];
  property: string;
}

/** A callback as the app declares it in `_dash-dependencies`, keyed by its `output` (the id Dash dispatches on). */
export interface DeclaredCallback {
  output: string;
  inputs: DeclaredDependency[];
  state: DeclaredDependency[];
}

/**
 * Dash picks the callback to run from the body's `output` alone and takes its arguments by
 * position: the ids and properties a body gives for its inputs are never checked (a pages
 * request whose input claimed to be {"id": "fake", "property": "nothing"} still rendered the
 * page it named). So what an input *is* comes from the app's own declaration, never from the
 * body: the catalog holds `_dash-dependencies`, fetched from the app, and is refreshed when a
 * body names an output it does not know or after `maxAgeMs`.
 */
export function createCallbackCatalog(options: { load: () => Promise<unknown>; now: () => number; maxAgeMs?: number; minRefetchMs?: number }) {
  const maxAgeMs = options.maxAgeMs ?? 60_000;
  const minRefetchMs = options.minRefetchMs ?? 1000;
  let callbacks = new Map<string, DeclaredCallback>();
  let loadedAt = -Infinity;
  let pending: Promise<void> | null = null;

  function refresh(): Promise<void> {
    pending ??= options
      .load()
      .then((list) => {
        callbacks = parseDependencyList(list);
        loadedAt = options.now();
      })
      .finally(() => {
        pending = null;
      });
    return pending;
  }

  return {
    /**
     * The declaration of the callback a body names, or null when the app does not declare one
     * (Dash answers such a body with an error and runs nothing). `stale`: the caller found the
     * cached declaration does not fit the body (the app was redeployed): read it again (at most
     * once per `minRefetchMs`). Throws when the app cannot be asked: a callback the gateway
     * cannot read is not forwarded.
     */
    async lookup(output: string, options_: { stale?: boolean } = {}): Promise<DeclaredCallback | null> {
      const age = options.now() - loadedAt;
      const known = callbacks.has(output) && options_.stale !== true;
      if (age >= maxAgeMs || (!known && age >= minRefetchMs)) {
        try {
          await refresh();
        } catch (err) {
          // The app is restarting: a declaration read earlier still describes the callback.
          if (!callbacks.has(output)) throw err;
        }
      }
      return callbacks.get(output) ?? null;
    },
    /** Forget what was read (the app restarted). */
    invalidate(): void {
      loadedAt = -Infinity;
    },
  };
}

export type CallbackCatalog = ReturnType<typeof createCallbackCatalog>;

/** `_dash-dependencies` → callbacks by `output`. Entries that are not callbacks are skipped; ids given as JSON text are parsed. */
export function parseDependencyList(list: unknown): Map<string, DeclaredCallback> {
  if (!Array.isArray(list)) throw new TypeError('_dash-dependencies is not a list');
  const out = new Map<string, DeclaredCallback>();
  for (const entry of list) {
    if (typeof entry !== 'object' || entry === null) continue;
    const { output, inputs, state, clientside_function: clientside } = entry as Record<string, unknown>;
    // Clientside callbacks run in the browser and never reach the server.
    if (typeof output !== 'string' || (clientside !== null && clientside !== undefined)) continue;
    out.set(output, { output, inputs: declared(inputs), state: declared(state) });
  }
  return out;
}

function declared(value: unknown): DeclaredDependency[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((item) => {
    if (typeof item !== 'object' || item === null) return [];
    const { id, property } = item as { id?: unknown; property?: unknown };
    if (typeof property !== 'string') return [];
    if (typeof id === 'string') return [{ id: parseJsonId(id), property }];
    if (typeof id === 'object' && id !== null && !Array.isArray(id)) return [{ id: id as Record<string, unknown>, property }];
    return [];
  });
}

/** Pattern-matching ids are listed as JSON text (`{"index":["MATCH"],"type":"card"}`). */
function parseJsonId(id: string): CallbackOutput['id'] {
  if (!id.startsWith('{')) return id;
  try {
    const parsed: unknown = JSON.parse(id);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : id;
  } catch {
    return id;
  }
}

/**
 * Whether a body has exactly the arguments the declaration has: `inputs` a list as long as the
 * declared inputs, `state` (absent when none) as long as the declared state. Dash only checks the
 * total and runs `inputs + state` by position, so a body that moved its arguments from `inputs`
 * to `state` would be read by Dash as the declaration says, but by a reader that took the lists
 * apart as something else. A body that does not fit is refused (or the declaration read again).
 */
export function fitsDeclaration(declaredCallback: DeclaredCallback, body: unknown): boolean {
  const { inputs, state } = (typeof body === 'object' && body !== null ? body : {}) as { inputs?: unknown; state?: unknown };
  if (!Array.isArray(inputs) || inputs.length !== declaredCallback.inputs.length) return false;
  if (state === undefined || state === null) return declaredCallback.state.length === 0;
  return Array.isArray(state) && state.length === declaredCallback.state.length;
}

/**
 * The values a body gives for the declared arguments whose property is one of `properties`, by
 * position over `inputs + state`, the way Dash builds the call. A pattern-matching (ALL)
 * argument is a list of items; each item's value counts.
 */
export function valuesByPosition(declaredCallback: DeclaredCallback, body: unknown, properties: ReadonlySet<string>): Array<{ dependency: DeclaredDependency; value: unknown }> {
  const found: Array<{ dependency: DeclaredDependency; value: unknown }> = [];
  const { inputs, state } = (typeof body === 'object' && body !== null ? body : {}) as { inputs?: unknown; state?: unknown };
  const given = [...(Array.isArray(inputs) ? inputs : []), ...(Array.isArray(state) ? state : [])];
  [...declaredCallback.inputs, ...declaredCallback.state].forEach((dependency, i) => {
    if (!properties.has(dependency.property)) return;
    for (const value of itemValues(given[i], 0)) found.push({ dependency, value });
  });
  return found;
}

function itemValues(item: unknown, depth: number): unknown[] {
  if (depth > 3 || item === null || typeof item !== 'object') return [];
  if (Array.isArray(item)) return item.flatMap((inner) => itemValues(inner, depth + 1));
  return 'value' in item ? [(item as { value: unknown }).value] : [];
}
