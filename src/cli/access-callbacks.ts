import type { Command } from 'commander';
import { callbackOutputs, type CallbackOutput } from '../access/dash-callbacks.js';
import { parseDependencyList, type DeclaredCallback } from '../access/dash-dependencies.js';
import { UsageError } from '../errors.js';
import { createAuthorizer } from '../pipeline/authorize.js';
import { fetchUpstreamJson } from '../proxy/upstream-json.js';
import { configFromFlags, type CommonFlags } from './shared-options.js';

const LOCATION_PROPERTIES = new Set(['pathname', 'href']);

interface CallbacksFlags extends CommonFlags {
  json?: boolean;
}

/**
 * `dashgate access callbacks`: the app's callbacks (from its `_dash-dependencies`) and what
 * guards each one: the page rules of the pages it renders, a rule listing its components, a
 * callback rule, or only the rule of the callback endpoint. What the admin reads before writing
 * `components:` or `dash.callbacks` for a page.
 */
export function registerAccessCallbacksCommand(access: Command, out: (line: string) => void): void {
  access
    .command('callbacks')
    .description("list the app's Dash callbacks and the rules that guard each one (reads <upstream>/_dash-dependencies)")
    .option('-c, --config <file>', 'configuration file (default: ./dashgate.yaml when present)')
    .option('-u, --upstream <url>', 'the app, e.g. http://127.0.0.1:8050 (default: upstream in dashgate.yaml)')
    .option('--json', 'one JSON document instead of text')
    .action(async (flags: CallbacksFlags) => {
      const config = configFromFlags(flags);
      if (!config.upstream) throw new UsageError('no upstream: pass --upstream http://127.0.0.1:8050 or set "upstream" in dashgate.yaml');
      let list: unknown;
      try {
        list = await fetchUpstreamJson(config.upstream, `${config.dash.prefix}_dash-dependencies`, { timeoutMs: 10_000 });
      } catch (err) {
        throw new UsageError(`could not read the app's callbacks at ${config.upstream}${config.dash.prefix}_dash-dependencies: ${(err as Error).message}`);
      }
      const authorizer = createAuthorizer(config);
      const rows = [...parseDependencyList(list).values()].map((callback) => describeGuards(callback, authorizer));
      if (flags.json) return out(JSON.stringify(rows, null, 2));
      out(`${rows.length} callbacks in ${config.upstream}${config.dash.prefix}_dash-dependencies`);
      for (const row of rows) {
        out(`  ${row.output}  ← ${row.reads.join(', ') || '(no inputs)'}`);
        for (const guard of row.guards) out(`      ${guard}`);
      }
      const open = rows.filter((row) => row.onlyEndpointRule).length;
      if (open > 0) out(`${open} callback(s) are guarded only by the rule of the callback endpoint; list their components under the page rule they belong to (components: […]) or add dash.callbacks rules`);
    });
}

function describeGuards(callback: DeclaredCallback, authorizer: ReturnType<typeof createAuthorizer>) {
  const outputs: CallbackOutput[] = callbackOutputs({ output: callback.output });
  const declared = [...callback.inputs, ...callback.state];
  const show = (id: CallbackOutput['id']) => (typeof id === 'string' ? id : JSON.stringify(id));
  const guards: string[] = [];
  const locations = declared.filter((d) => LOCATION_PROPERTIES.has(d.property));
  if (locations.length > 0) guards.push(`renders pages: judged by the path rules of the page its ${locations.map((d) => `${show(d.id)}.${d.property}`).join(', ')} names`);
  for (const { rule, id } of authorizer.rules.matchComponents([...outputs.map((o) => o.id), ...declared.map((d) => d.id)], '')) guards.push(`rule ${rule.index} (${rule.label}) lists its component ${show(id)}`);
  for (const line of authorizer.callbacks.explain(outputs, null)) if (line.includes('→ applies')) guards.push(line.trim().replace(/: (allows|needs sign-in|refuses)$/, ''));
  return {
    output: callback.output,
    reads: declared.map((d) => `${show(d.id)}.${d.property}`),
    guards: guards.length > 0 ? guards : ['only the rule of the callback endpoint (path rules for …/_dash-update-component)'],
    onlyEndpointRule: guards.length === 0,
  };
}
