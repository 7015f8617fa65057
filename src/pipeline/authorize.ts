import type { IncomingMessage } from 'node:http';
import { CallbackRules, callbackComponents, callbackOutputs, isCallbackPath, type CallbackOutput, isWebSocketCallbackPath, readBoundedBody, type CallbackJudgement } from '../access/dash-callbacks.js';
import { fitsDeclaration, type CallbackCatalog, type DeclaredCallback } from '../access/dash-dependencies.js';
import { callbackLocations, type CallbackLocation } from '../access/dash-locations.js';
import { evaluatePolicy, type Verdict } from '../access/policy.js';
import { AccessRules, type RuleMatch } from '../access/rules.js';
import type { Config } from '../config/schema.js';
import { GatewayError } from '../errors.js';
import { userOf, type Identity } from './identify.js';
import type { RequestScope } from './scope.js';

export type { Verdict } from '../access/policy.js';

const ALLOWED: CallbackJudgement = Object.freeze({ verdict: 'allow', rule: null });

export interface CallbackCheck {
  verdict: Verdict;
  judgement: CallbackJudgement;
  /** The body as read; forwarded as it is, so the app runs exactly the callback that was judged. */
  body: Buffer;
  /**
   * The page that refused the callback, when that is what refused it: the page a location input
   * names, or the page whose components (`components` of a path rule) the callback touches.
   */
  page: { path: string; rule: RuleMatch; location: CallbackLocation | null; component: CallbackOutput['id'] | null; target: string | null } | null;
  /** The rules of the pages the callback names (allowed), for their second-factor (step-up) needs. */
  pageRules: RuleMatch[];
}

/**
 * Step 4: may this identity reach this request? The path rules decide first (`access.rules`,
 * then `access.default`); a Dash callback the path rules allow is then judged by its outputs
 * (`dash.callbacks`) and by the pages it renders or belongs to, which needs its body, so that is
 * read (bounded) only when such rules exist. `catalog` tells what the app's callbacks declare.
 */
export function createAuthorizer(config: Pick<Config, 'access' | 'dash'>, options: { catalog?: CallbackCatalog | null } = {}) {
  const rules = new AccessRules(config);
  const callbacks = new CallbackRules(config.dash.callbacks);
  const maxBody = config.dash.max_callback_body;
  // With path rules, a callback may render (or read) a page another rule guards: its body is read.
  const judgesPages = config.access.rules.length > 0;
  const inspects = callbacks.size > 0 || judgesPages;
  const catalog = options.catalog ?? null;
  // The configured path, and `_dash-mcp`: Dash's FastAPI backend serves MCP only under a `_dash-` path (DASH_MCP_PATH=_dash-mcp).
  const mcpPaths = [...new Set([config.dash.mcp_path, '_dash-mcp'])].map((path) => `${config.dash.prefix}${path}`);
  const isMcpPath = (matchPath: string) => mcpPaths.some((mcpPath) => matchPath === mcpPath || matchPath.startsWith(`${mcpPath}/`));
  const judgeAs = (rule: RuleMatch, identity: Identity): Verdict =>
    identity.kind === 'rejected' ? (rule.policy.kind === 'public' ? 'allow' : 'login_required') : evaluatePolicy(rule.policy, userOf(identity));

  /**
   * A parsed callback (HTTP body or WebSocket message payload) for this identity: its outputs by
   * the callback rules; then, with path rules, each page it names in a location argument and each
   * page whose components it touches, by that page's rule, as a GET of the page would be judged.
   * Throws BAD_CALLBACK for a callback the app does not declare, UPSTREAM_UNAVAILABLE when the
   * app cannot say what it declares.
   */
  async function judgeCallback(parsed: unknown, scope: RequestScope, identity: Identity): Promise<Omit<CallbackCheck, 'body'>> {
    const user = userOf(identity);
    const outputs = callbackOutputs(parsed);
    const judgement = callbacks.size > 0 ? callbacks.judge(outputs, user) : ALLOWED;
    if (judgement.verdict !== 'allow' || !judgesPages) return { verdict: judgement.verdict, judgement, page: null, pageRules: [] };
    const declared = await declarationOf((parsed as { output: string }).output, parsed);
    const pageRules: RuleMatch[] = [];
    // Where the refused page would have appeared: the page helper shows "no access" there.
    const target = (outputs.find((o) => typeof o.id === 'string')?.id as string | undefined) ?? null;
    for (const location of callbackLocations(declared, parsed, config.dash.prefix)) {
      const rule = rules.match({ matchPath: location.matchPath, hostname: scope.hostname, method: 'GET' });
      const verdict = judgeAs(rule, identity);
      if (verdict !== 'allow') return { verdict, judgement, page: { path: location.path, rule, location, component: null, target }, pageRules };
      pageRules.push(rule);
    }
    if (rules.anyComponents) {
      for (const { rule, id } of rules.matchComponents(callbackComponents(declared, outputs), scope.hostname)) {
        const verdict = judgeAs(rule, identity);
        if (verdict !== 'allow') return { verdict, judgement, page: { path: rule.label, rule, location: null, component: id, target }, pageRules };
        pageRules.push(rule);
      }
    }
    return { verdict: 'allow', judgement, page: null, pageRules };
  }

  /** What a refused callback's answer says about why (the page, or a page's component), for the page helper. */
  function describeCallbackRefusal(check: Omit<CallbackCheck, 'body'>): Record<string, unknown> {
    const { page } = check;
    // Rule names stay in the logs: they are the administrator's words, not the caller's business.
    if (!page) return { error: 'forbidden' };
    return page.location ? { error: 'forbidden', reason: 'page', path: page.path, target: page.target } : { error: 'forbidden', reason: 'page_component' };
  }

  async function declarationOf(output: string, body: unknown): Promise<DeclaredCallback> {
    if (catalog === null) throw new TypeError('no callback catalog: createAuthorizer needs options.catalog to judge callbacks by their pages');
    let declared: DeclaredCallback | null;
    try {
      declared = await catalog.lookup(output);
      // A body that does not fit what was read may be for a redeployed app: read it again, once.
      if (declared !== null && !fitsDeclaration(declared, body)) declared = await catalog.lookup(output, { stale: true });
    } catch (err) {
      throw new GatewayError('UPSTREAM_UNAVAILABLE', { cause: err });
    }
    // Dash would answer "callback not found" (or run the arguments as something else): a callback
    // the gateway cannot read the way Dash will is never forwarded.
    if (declared === null || !fitsDeclaration(declared, body)) throw new GatewayError('BAD_CALLBACK');
    return declared;
  }

  return {
    rules,
    callbacks,
    /** The rule that decides (host, canonical path, method). Known before identify: it says whether Basic is accepted. */
    match(scope: RequestScope, method: string): RuleMatch {
      return rules.match({ matchPath: scope.matchPath, hostname: scope.hostname, method });
    },
    /** The rule's verdict for this identity. Credentials that failed never pass. */
    verdict: judgeAs,
    /**
     * Whether this (already allowed) request is a Dash callback whose body must be read: callback
     * rules judge its outputs, and with path rules the page a location input names is judged too.
     * With neither, every page and callback has the same policy and the body is streamed unread.
     */
    inspectsCallback(req: IncomingMessage, scope: RequestScope): boolean {
      return inspects && req.method === 'POST' && isCallbackPath(scope.matchPath);
    },
    /**
     * Whether judging a request with this method and path needs what only a proxy sees: a Dash
     * callback's body (as `inspectsCallback`) or its WebSocket's messages. Forward-auth sees
     * neither, so it refuses these.
     */
    judgesByContent(method: string, scope: RequestScope): boolean {
      return inspects && ((method === 'POST' && isCallbackPath(scope.matchPath)) || isWebSocketCallbackPath(scope.matchPath));
    },
    /** Reads and judges a callback body. Throws PAYLOAD_TOO_LARGE, UNSUPPORTED_ENCODING or BAD_CALLBACK. */
    async checkCallback(req: IncomingMessage, scope: RequestScope, identity: Identity): Promise<CallbackCheck> {
      const body = await readBoundedBody(req, maxBody);
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        throw new GatewayError('BAD_CALLBACK');
      }
      return { body, ...(await judgeCallback(parsed, scope, identity)) };
    },
    judgeCallback,
    describeCallbackRefusal,
    /** Whether a WebSocket here is Dash's callback socket, read message by message while rules look inside callbacks. */
    inspectsWebSocket(scope: RequestScope): boolean {
      return inspects && isWebSocketCallbackPath(scope.matchPath);
    },
    /**
     * Dash's MCP endpoint (`Dash(enable_mcp=True)`) runs any callback by name (`tools/call`) and
     * lists them all (`tools/list`): while rules look inside callbacks it would be a way around
     * them, so it is refused (403 `mcp_refused`), whoever asks.
     */
    refusesMcp(scope: RequestScope): boolean {
      return inspects && isMcpPath(scope.matchPath);
    },
  };
}

export type Authorizer = ReturnType<typeof createAuthorizer>;
