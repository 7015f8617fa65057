import type { Config } from '../config/schema.js';
import type { User } from '../store/types.js';
import { compileComponentPattern, type CallbackOutput } from './dash-callbacks.js';
import { compileHostPattern, compilePathPattern } from './patterns.js';
import { compilePolicy, describePolicy, evaluatePolicy, explainVerdict, type Policy, type Verdict } from './policy.js';

/** What a rule sees of a request: the canonical match path, the normalised host and the method. */
export interface AccessTarget {
  matchPath: string;
  hostname: string;
  method: string;
}

/** The rule (or default) that decides a request. */
export interface RuleMatch {
  /** 1-based position in `access.rules`; 0 for the Dash framework switch; -1 for the default. */
  index: number;
  label: string;
  policy: Policy;
  allowBasic: boolean;
  /** Step-up: the session must have used a second factor. */
  mfa: boolean;
}

interface CompiledRule extends RuleMatch {
  hosts: RegExp[] | null;
  paths: RegExp[];
  methods: ReadonlySet<string> | null;
  /** The Dash components this page renders (`components`): callbacks touching them are judged by this rule. */
  components: ((id: CallbackOutput['id']) => boolean) | null;
}

/** Dash routes needed to draw a page, relative to `dash.prefix` (`access.public_dash_framework`). */
const DASH_FRAMEWORK_ROUTES = ['_dash-layout', '_dash-dependencies', '_dash-component-suites/**', '_reload-hash', '_favicon.ico'];

/**
 * The ordered access rules of `dashgate.yaml`, compiled once: the first rule whose host, path and
 * method match decides, else `access.default`. Matching is on the canonical match path only
 * (never the query), case-sensitive, and costs one RegExp test per pattern tried.
 */
export class AccessRules {
  private readonly rules: CompiledRule[];
  private readonly fallback: RuleMatch;

  constructor(config: Pick<Config, 'access' | 'dash'>) {
    const rules: CompiledRule[] = [];
    if (config.access.public_dash_framework) {
      rules.push({
        index: 0,
        label: `Dash framework routes under ${config.dash.prefix} (access.public_dash_framework)`,
        policy: { kind: 'public' },
        allowBasic: false,
        mfa: false,
        hosts: null,
        paths: DASH_FRAMEWORK_ROUTES.map((route) => compilePathPattern(config.dash.prefix + route)),
        methods: new Set(['GET', 'HEAD']),
        components: null,
      });
    }
    config.access.rules.forEach((rule, i) => {
      const methods = rule.methods ? new Set(rule.methods.flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m]))) : null;
      rules.push({
        index: i + 1,
        label: rule.name ?? `${rule.host ? `${rule.host.join(',')} ` : ''}${rule.path.join(', ')}${rule.methods ? ` [${rule.methods.join(',')}]` : ''}`,
        policy: compilePolicy(rule),
        allowBasic: rule.allow_basic,
        mfa: rule.mfa,
        hosts: rule.host ? rule.host.map(compileHostPattern) : null,
        paths: rule.path.map(compilePathPattern),
        methods,
        components: rule.components ? anyOf(rule.components.map(compileComponentPattern)) : null,
      });
    });
    this.rules = rules;
    this.fallback = { index: -1, label: 'access.default', policy: compilePolicy(config.access.default), allowBasic: false, mfa: false };
  }

  /** The rule that decides this request (never null: the default decides what no rule does). */
  match(target: AccessTarget): RuleMatch {
    for (const rule of this.rules) if (ruleMatches(rule, target)) return rule;
    return this.fallback;
  }

  /** Whether some rule names the Dash components its page renders. */
  get anyComponents(): boolean {
    return this.rules.some((r) => r.components !== null);
  }

  /**
   * The rules whose page renders one of these components (in rule order, host rules only for
   * their hosts): a callback that reads or writes them is judged by each, as the page itself is.
   */
  matchComponents(ids: ReadonlyArray<CallbackOutput['id']>, hostname: string): Array<{ rule: RuleMatch; id: CallbackOutput['id'] }> {
    const found: Array<{ rule: RuleMatch; id: CallbackOutput['id'] }> = [];
    for (const rule of this.rules) {
      if (rule.components === null || (rule.hosts !== null && !rule.hosts.some((h) => h.test(hostname)))) continue;
      const id = ids.find(rule.components);
      if (id !== undefined) found.push({ rule, id });
    }
    return found;
  }

  /** Whether any rule (or the default) accepts HTTP Basic; saves parsing Authorization otherwise. */
  get anyBasic(): boolean {
    return this.rules.some((r) => r.allowBasic);
  }

  /**
   * Every rule in order with whether it matched, then the verdict: what `dashgate access explain`
   * prints. Uses the same `ruleMatches` and `evaluatePolicy` as the hot path.
   */
  explain(target: AccessTarget, user: User | null): { lines: string[]; match: RuleMatch; verdict: Verdict } {
    const lines: string[] = [];
    let decided: RuleMatch | null = null;
    for (const rule of this.rules) {
      const why = mismatch(rule, target);
      const name = rule.index === 0 ? `framework` : `rule ${rule.index}`;
      if (why === null) {
        lines.push(`  ${name}: ${rule.label} → matches`);
        decided = rule;
        break;
      }
      lines.push(`  ${name}: ${rule.label} → skipped (${why})`);
    }
    const match = decided ?? this.fallback;
    if (!decided) lines.push(`  no rule matches: access.default decides`);
    const verdict = evaluatePolicy(match.policy, user);
    lines.push(`  policy: ${describePolicy(match.policy)}${match.mfa ? ' + a second factor in this session (step-up)' : ''}`);
    lines.push(`  verdict: ${verdictText(verdict)}, because ${explainVerdict(match.policy, user, verdict)}`);
    return { lines, match, verdict };
  }
}

export function verdictText(verdict: Verdict): string {
  return verdict === 'allow' ? 'ALLOW' : verdict === 'login_required' ? 'SIGN IN REQUIRED (303 to the login page, or 401 JSON)' : 'FORBIDDEN (403)';
}

function anyOf<T>(predicates: Array<(value: T) => boolean>): (value: T) => boolean {
  return (value) => predicates.some((p) => p(value));
}

function ruleMatches(rule: CompiledRule, target: AccessTarget): boolean {
  if (rule.methods !== null && !rule.methods.has(target.method)) return false;
  if (rule.hosts !== null && !rule.hosts.some((h) => h.test(target.hostname))) return false;
  for (const path of rule.paths) if (path.test(target.matchPath)) return true;
  return false;
}

function mismatch(rule: CompiledRule, target: AccessTarget): string | null {
  if (rule.methods !== null && !rule.methods.has(target.method)) return `method ${target.method} not listed`;
  if (rule.hosts !== null && !rule.hosts.some((h) => h.test(target.hostname))) return `host "${target.hostname}" not listed`;
  if (!rule.paths.some((p) => p.test(target.matchPath))) return `path ${target.matchPath} does not match`;
  return null;
}
