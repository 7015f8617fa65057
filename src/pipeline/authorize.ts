import type { IncomingMessage } from 'node:http';
import { CallbackRules, callbackOutputs, isCallbackPath, isWebSocketCallbackPath, readBoundedBody, type CallbackJudgement } from '../access/dash-callbacks.js';
import { evaluatePolicy, type Verdict } from '../access/policy.js';
import { AccessRules, type RuleMatch } from '../access/rules.js';
import type { Config } from '../config/schema.js';
import { GatewayError } from '../errors.js';
import { userOf, type Identity } from './identify.js';
import type { RequestScope } from './scope.js';

export type { Verdict } from '../access/policy.js';

export interface CallbackCheck {
  verdict: Verdict;
  judgement: CallbackJudgement;
  /** The body as read; forwarded as it is, so the app runs exactly the callback that was judged. */
  body: Buffer;
}

/**
 * Step 4: may this identity reach this request? The path rules decide first (`access.rules`,
 * then `access.default`); a Dash callback the path rules allow is then judged by its outputs
 * (`dash.callbacks`), which needs its body, so that is read (bounded) only when such rules exist.
 */
export function createAuthorizer(config: Pick<Config, 'access' | 'dash'>) {
  const rules = new AccessRules(config);
  const callbacks = new CallbackRules(config.dash.callbacks);
  const maxBody = config.dash.max_callback_body;

  return {
    rules,
    callbacks,
    /** The rule that decides (host, canonical path, method). Known before identify: it says whether Basic is accepted. */
    match(scope: RequestScope, method: string): RuleMatch {
      return rules.match({ matchPath: scope.matchPath, hostname: scope.hostname, method });
    },
    /** The rule's verdict for this identity. Credentials that failed never pass. */
    verdict(rule: RuleMatch, identity: Identity): Verdict {
      if (identity.kind === 'rejected') return rule.policy.kind === 'public' ? 'allow' : 'login_required';
      return evaluatePolicy(rule.policy, userOf(identity));
    },
    /** Whether this (already allowed) request is a Dash callback the callback rules must see. */
    inspectsCallback(req: IncomingMessage, scope: RequestScope): boolean {
      return callbacks.size > 0 && req.method === 'POST' && isCallbackPath(scope.matchPath);
    },
    /** Reads and judges a callback body. Throws PAYLOAD_TOO_LARGE, UNSUPPORTED_ENCODING or BAD_CALLBACK. */
    async checkCallback(req: IncomingMessage, identity: Identity): Promise<CallbackCheck> {
      const body = await readBoundedBody(req, maxBody);
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        throw new GatewayError('BAD_CALLBACK');
      }
      const judgement = callbacks.judge(callbackOutputs(parsed), userOf(identity));
      return { verdict: judgement.verdict, judgement, body };
    },
    /**
     * Dash 4's WebSocket callbacks carry callback bodies inside frames the gateway does not read;
     * while callback rules exist, that endpoint is refused and the renderer keeps to HTTP.
     */
    refusesUpgrade(scope: RequestScope): boolean {
      return callbacks.size > 0 && isWebSocketCallbackPath(scope.matchPath);
    },
  };
}

export type Authorizer = ReturnType<typeof createAuthorizer>;
