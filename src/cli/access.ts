import type { Command } from 'commander';
import { isCallbackPath, parseOutputSpec, type CallbackOutput } from '../access/dash-callbacks.js';
import { locationMatchPath } from '../access/dash-locations.js';
import { describePolicy, evaluatePolicy, type Verdict } from '../access/policy.js';
import { verdictText } from '../access/rules.js';
import { canonicalizeTarget } from '../pipeline/canonical-path.js';
import { createAuthorizer, type Authorizer } from '../pipeline/authorize.js';
import { normalizeHost } from '../pipeline/scope.js';
import { GatewayError, UsageError } from '../errors.js';
import type { User } from '../store/types.js';
import { registerAccessCallbacksCommand } from './access-callbacks.js';
import { addStoreOptions, requireUser, withStore, type CommonFlags } from './shared-options.js';

interface ExplainFlags extends CommonFlags {
  user?: string;
  method: string;
  output?: string[];
  location?: string[];
  input?: string[];
}

const repeat = (value: string, previous: string[]) => [...previous, value];

/** `dashgate access explain`: which rule decides a request, and why, with the same code the gateway runs. */
export function registerAccessCommands(program: Command, out: (line: string) => void): void {
  const access = program.command('access').description('inspect the access rules of dashgate.yaml');
  registerAccessCallbacksCommand(access, out);
  addStoreOptions(access.command('explain <url>').description('show which rule decides a request and why, e.g. dashgate access explain --user alice /reports/q3'))
    .option('--user <name>', 'the signed-in user to judge (default: an anonymous caller)')
    .option('--method <method>', 'HTTP method', 'GET')
    .option('--output <id.prop>', 'for a Dash callback: an output it writes, e.g. salary-table.data (repeat for several)', repeat, [] as string[])
    .option('--location <path>', 'for a Dash callback: the page its location argument names (dcc.Location pathname), e.g. /reports', repeat, [] as string[])
    .option('--input <id>', 'for a Dash callback: a component it reads (an input or state id), for rules listing components', repeat, [] as string[])
    .action((url: string, flags: ExplainFlags) =>
      withStore(flags, async (store, config) => {
        const { host, target } = splitUrl(url);
        let canonical;
        try {
          canonical = canonicalizeTarget(target);
        } catch (err) {
          if (err instanceof GatewayError) throw new UsageError(`the gateway refuses this path with 400 before any rule: ${err.message}`);
          throw err;
        }
        const hostname = host ? normalizeHost(host) : '';
        if (hostname === null) throw new UsageError(`the gateway refuses the host ${JSON.stringify(host)} with 400 before any rule`);
        let user: User | null = null;
        if (flags.user) {
          const found = await requireUser(store, flags.user);
          const { passwordHash: _omit, ...plain } = found;
          user = plain;
          if (user.status !== 'active') out(`note: "${user.username}" is ${user.status}; the gateway treats a ${user.status} account as signed out`);
        }
        const method = flags.method.toUpperCase();
        const authorizer = createAuthorizer(config);
        const who = user ? `"${user.username}" (groups: ${user.groups.length > 0 ? user.groups.join(', ') : 'none'})` : 'an anonymous caller';
        out(`${method} ${canonical.path}${host ? ` on host ${host}` : ''} by ${who}`);
        if (canonical.matchPath !== canonical.path) out(`  rules see ${canonical.matchPath} (";params" removed)`);
        const effectiveUser = user?.status === 'active' ? user : null;
        const result = authorizer.rules.explain({ matchPath: canonical.matchPath, hostname, method }, effectiveUser);
        for (const line of result.lines) out(line);
        let verdict = result.verdict;
        const outputs = (flags.output ?? []).map(parseOutputSpec);
        const asCallback = outputs.length > 0 || (flags.location ?? []).length > 0 || (flags.input ?? []).length > 0;
        if (asCallback && (!isCallbackPath(canonical.matchPath) || method !== 'POST')) {
          // The gateway reads callback bodies only there: saying otherwise would explain a decision it never makes.
          out('  note: --output, --location and --input apply only to POST …/_dash-update-component; this request is not a callback, so its outputs are not judged');
        } else if (asCallback) {
          const judged = explainCallback(authorizer, config.dash.prefix, { outputs, locations: flags.location ?? [], inputs: flags.input ?? [], hostname }, effectiveUser, out);
          if (verdict === 'allow') verdict = judged;
        } else if (isCallbackPath(canonical.matchPath) && (authorizer.callbacks.size > 0 || config.access.rules.length > 0)) {
          out('  note: this is the Dash callback endpoint; pass --output <id.prop> to judge a callback (--location <path> and --input <id> for the page it renders or belongs to)');
        }
        out(`result: ${verdictText(verdict)}`);
      }),
    );
}

/**
 * A callback as the gateway judges it: its outputs by the callback rules, each page it names by
 * the path rules (as a GET of that page), each page whose components it touches by that rule.
 */
function explainCallback(authorizer: Authorizer, dashPrefix: string, callback: { outputs: CallbackOutput[]; locations: string[]; inputs: string[]; hostname: string }, user: User | null, out: (line: string) => void): Verdict {
  let verdict: Verdict = 'allow';
  const keep = (next: Verdict) => {
    if (verdict === 'allow') verdict = next;
  };
  if (callback.outputs.length > 0) {
    if (authorizer.callbacks.size === 0) out('  no dash.callbacks rules: outputs are not checked');
    for (const line of authorizer.callbacks.explain(callback.outputs, user)) out(line);
    keep(authorizer.callbacks.judge(callback.outputs, user).verdict);
  }
  for (const location of callback.locations) {
    let page;
    try {
      page = locationMatchPath(location, dashPrefix);
    } catch {
      throw new UsageError(`the gateway refuses a callback naming ${JSON.stringify(location)} with 400: it is not a path it can judge`);
    }
    out(`  the page it renders, ${page.path}, judged as GET ${page.path}:`);
    const result = authorizer.rules.explain({ matchPath: page.matchPath, hostname: callback.hostname, method: 'GET' }, user);
    for (const line of result.lines) out(`  ${line}`);
    keep(result.verdict);
  }
  const components = [...callback.outputs.map((o) => o.id), ...callback.inputs];
  for (const { rule, id } of authorizer.rules.matchComponents(components, callback.hostname)) {
    const judged = evaluatePolicy(rule.policy, user);
    out(`  rule ${rule.index} (${rule.label}) lists component ${typeof id === 'string' ? id : JSON.stringify(id)} → ${describePolicy(rule.policy)}: ${judged === 'allow' ? 'allows' : judged === 'login_required' ? 'needs sign-in' : 'refuses'}`);
    keep(judged);
  }
  return verdict;
}

/** "https://host/x?y" → host + "/x?y"; "/x" → no host. */
function splitUrl(url: string): { host: string; target: string } {
  if (url.startsWith('/')) return { host: '', target: url };
  const match = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)(.*)$/.exec(url);
  if (!match) throw new UsageError(`expected a path like /reports/q3 or a URL like https://dash.example.com/reports/q3, got "${url}"`);
  return { host: match[1]!, target: match[2] || '/' };
}
