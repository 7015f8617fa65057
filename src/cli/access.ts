import type { Command } from 'commander';
import { isCallbackPath, parseOutputSpec } from '../access/dash-callbacks.js';
import { verdictText } from '../access/rules.js';
import { canonicalizeTarget } from '../pipeline/canonical-path.js';
import { createAuthorizer } from '../pipeline/authorize.js';
import { normalizeHost } from '../pipeline/scope.js';
import { GatewayError, UsageError } from '../errors.js';
import type { User } from '../store/types.js';
import { addStoreOptions, requireUser, withStore, type CommonFlags } from './shared-options.js';

interface ExplainFlags extends CommonFlags {
  user?: string;
  method: string;
  output?: string[];
}

/** `dashgate access explain`: which rule decides a request, and why, with the same code the gateway runs. */
export function registerAccessCommands(program: Command, out: (line: string) => void): void {
  const access = program.command('access').description('inspect the access rules of dashgate.yaml');
  addStoreOptions(access.command('explain <url>').description('show which rule decides a request and why, e.g. dashgate access explain --user alice /reports/q3'))
    .option('--user <name>', 'the signed-in user to judge (default: an anonymous caller)')
    .option('--method <method>', 'HTTP method', 'GET')
    .option('--output <id.prop>', 'for a Dash callback: an output it writes, e.g. salary-table.data (repeat for several)', (value: string, previous: string[]) => [...previous, value], [] as string[])
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
        if (flags.output && flags.output.length > 0) {
          const outputs = flags.output.map(parseOutputSpec);
          if (!isCallbackPath(canonical.matchPath) || method !== 'POST') {
            // The gateway reads callback bodies only there: saying otherwise would explain a decision it never makes.
            out('  note: --output applies only to POST …/_dash-update-component; this request is not a callback, so its outputs are not judged');
          } else {
            if (authorizer.callbacks.size === 0) out('  no dash.callbacks rules: outputs are not checked');
            for (const line of authorizer.callbacks.explain(outputs, effectiveUser)) out(line);
            if (verdict === 'allow') verdict = authorizer.callbacks.judge(outputs, effectiveUser).verdict;
          }
        } else if (isCallbackPath(canonical.matchPath) && authorizer.callbacks.size > 0) {
          out('  note: this is the Dash callback endpoint and callback rules exist; pass --output <id.prop> to judge a callback');
        }
        out(`result: ${verdictText(verdict)}`);
      }),
    );
}

/** "https://host/x?y" → host + "/x?y"; "/x" → no host. */
function splitUrl(url: string): { host: string; target: string } {
  if (url.startsWith('/')) return { host: '', target: url };
  const match = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)(.*)$/.exec(url);
  if (!match) throw new UsageError(`expected a path like /reports/q3 or a URL like https://dash.example.com/reports/q3, got "${url}"`);
  return { host: match[1]!, target: match[2] || '/' };
}
