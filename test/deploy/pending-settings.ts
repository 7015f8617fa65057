import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

/**
 * Settings the deployment files may use before src/config/schema.ts has them ("unknown setting"
 * is then their one allowed problem). Empty: redis, metrics and server.drain_timeout have landed
 * and are checked like every other setting.
 */
const PENDING_SETTINGS = new Set<string>([]);

/** Whether a config problem is only "unknown setting" for settings in PENDING_SETTINGS. */
function onlyPendingUnknown(problem: string): boolean {
  const at = problem.indexOf(': unknown setting');
  if (at < 0) return false;
  // "metrics, redis: unknown setting" or "server.drain_timeout: unknown setting" (load.ts formatIssues).
  const [first = '', ...rest] = problem.slice(0, at).split(', ');
  const prefix = first.slice(0, first.lastIndexOf('.') + 1);
  return [first, ...rest.map((key) => prefix + key)].every((path) => PENDING_SETTINGS.has(path));
}

/** The problems Dashgate reports for this file and environment, less the pending settings' (empty: valid). */
export function configProblems(file: string, env: Record<string, string>): string[] {
  try {
    loadConfig({ file, env });
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.filter((problem) => !onlyPendingUnknown(problem));
  }
}
