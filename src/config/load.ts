import { readFileSync, existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { configSchema, type Config, type ConfigInput } from './schema.js';

type Plain = Record<string, unknown>;

export interface LoadOptions {
  /** Path of dashgate.yaml; when absent, ./dashgate.yaml is read if it exists. */
  file?: string | undefined;
  /** Environment to read DASHGATE_* overrides from (passed in, never read from process.env here). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Values from command-line flags, highest precedence, already in config shape. */
  overrides?: ConfigInput;
}

/**
 * Loads configuration: file, then `DASHGATE_*` environment variables, then flags. Every problem is
 * collected and reported at once with its path; the result is deeply frozen.
 */
export function loadConfig(options: LoadOptions = {}): Config {
  const problems: string[] = [];
  let fromFile: Plain = {};
  const file = options.file ?? (existsSync('dashgate.yaml') ? 'dashgate.yaml' : undefined);
  if (file !== undefined) {
    try {
      const parsed: unknown = parseYaml(readFileSync(file, 'utf8'));
      if (parsed === null || parsed === undefined) fromFile = {};
      else if (isPlain(parsed)) fromFile = parsed;
      else problems.push(`${file}: expected a mapping at the top level`);
    } catch (err) {
      problems.push(`${file}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  const sources = new Map<string, string>();
  const fromEnv = readEnvOverrides(options.env ?? {}, problems, sources);
  if (problems.length > 0) throw new ConfigError(problems);
  return parseConfig(deepMerge(deepMerge(fromFile, fromEnv), (options.overrides ?? {}) as Plain), sources);
}

/**
 * Validates an in-memory config (tests and embedders); same errors as loadConfig. `sources`:
 * setting paths that came from environment variables, so a problem names the variable.
 */
export function parseConfig(input: unknown, sources: ReadonlyMap<string, string> = new Map()): Config {
  const result = configSchema.safeParse(input);
  if (!result.success) throw new ConfigError(formatIssues(result.error.issues, sources));
  return deepFreeze(result.data);
}

function formatIssues(issues: readonly z.core.$ZodIssue[], sources: ReadonlyMap<string, string>): string[] {
  const from = (path: string) => (sources.has(path) ? ` (from the environment variable ${sources.get(path)})` : '');
  return issues.flatMap((issue) => {
    const path = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
    if (issue.code === 'unrecognized_keys') {
      const prefix = path === '(top level)' ? '' : `${path}.`;
      const fromEnv = issue.keys.filter((key) => sources.has(prefix + key));
      const fromFile = issue.keys.filter((key) => !sources.has(prefix + key));
      return [
        ...(fromFile.length ? [`${prefix}${fromFile.join(', ')}: unknown setting`] : []),
        ...fromEnv.map((key) => `${prefix}${key}: unknown setting (from the environment variable ${sources.get(prefix + key)}; DASHGATE_* variables are settings, levels joined by "__")`),
      ];
    }
    return [`${path}: ${issue.message}${from(issue.path.join('.'))}`];
  });
}

/**
 * Variables Kubernetes injects for a Service named "dashgate" in the same namespace (service
 * links: DASHGATE_SERVICE_HOST=10.0.0.12, DASHGATE_PORT=tcp://10.0.0.12:8000,
 * DASHGATE_PORT_8000_TCP_ADDR, …): not settings, ignored when they look like what Kubernetes sets.
 */
function isServiceLink(name: string, value: string): boolean {
  const rest = name.slice('DASHGATE_'.length);
  if (rest === 'SERVICE_HOST') return isIP(value) !== 0;
  if (/^SERVICE_PORT(_[A-Z0-9_]+)?$/.test(rest) || /^PORT_\d+_(TCP|UDP|SCTP)_PORT$/.test(rest)) return /^\d{1,5}$/.test(value);
  if (rest === 'PORT' || /^PORT_\d+_(TCP|UDP|SCTP)$/.test(rest)) return /^(tcp|udp|sctp):\/\/[0-9a-fA-F.:[\]]+:\d{1,5}$/.test(value);
  if (/^PORT_\d+_(TCP|UDP|SCTP)_PROTO$/.test(rest)) return /^(tcp|udp|sctp)$/.test(value);
  if (/^PORT_\d+_(TCP|UDP|SCTP)_ADDR$/.test(rest)) return isIP(value) !== 0;
  return false;
}

/**
 * `DASHGATE_SESSION__IDLE_TIMEOUT=2h` sets `session.idle_timeout`; `__` separates levels and a
 * single `_` stays part of the key. Values are read as YAML scalars so numbers and booleans work.
 */
function readEnvOverrides(env: Readonly<Record<string, string | undefined>>, problems: string[], sources: Map<string, string>): Plain {
  const out: Plain = {};
  for (const [name, raw] of Object.entries(env)) {
    // DASHGATE_APP_* belong to the app (the Python helper reads them; `dashgate run` sets them);
    // DASHGATE_WORKER_ID is how the primary numbers its server.workers.
    if (!name.startsWith('DASHGATE_') || name.startsWith('DASHGATE_APP_') || name === 'DASHGATE_WORKER_ID' || raw === undefined) continue;
    if (isServiceLink(name, raw)) continue;
    const path = name.slice('DASHGATE_'.length).toLowerCase().split('__');
    if (path.some((part) => part === '')) {
      problems.push(`${name}: malformed variable name`);
      continue;
    }
    let value: unknown = raw;
    try {
      value = parseYaml(raw);
    } catch {
      // Not YAML: keep the raw string, the schema will judge it.
    }
    // "myapp:" (a Redis key prefix) reads as the mapping {myapp: null}: a mapping is only meant
    // when written as one ({…}, or a block over several lines).
    if (isPlain(value) && !raw.trimStart().startsWith('{') && !raw.includes('\n')) value = raw;
    let node = out;
    for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Plain;
    node[path.at(-1)!] = value;
    for (let i = 1; i <= path.length; i++) if (!sources.has(path.slice(0, i).join('.'))) sources.set(path.slice(0, i).join('.'), name);
  }
  return out;
}

function isPlain(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepMerge(base: Plain, extra: Plain): Plain {
  const out: Plain = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) continue;
    out[key] = isPlain(value) && isPlain(out[key]) ? deepMerge(out[key], value) : value;
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
