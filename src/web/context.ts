import type { Health } from '../ops/health.js';
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type { Accounts } from '../accounts/accounts.js';
import type { ApiTokenManager } from '../auth/api-tokens.js';
import type { SsoClient } from '../auth/sso/client.js';
import type { FlowSeal } from '../auth/sso/flow-seal.js';
import type { MfaChallenge } from '../auth/totp.js';
import type { SecondFactorGate } from '../pipeline/second-factor.js';
import type { Mailer } from '../mail/mailer.js';
import type { CookiePolicy } from '../auth/cookies.js';
import type { CsrfGuard } from '../auth/csrf.js';
import type { SessionManager } from '../auth/sessions.js';
import type { SignInThrottle } from '../auth/throttle.js';
import type { PasswordPolicy } from '../auth/password-policy.js';
import type { Identity } from '../pipeline/identify.js';
import type { RequestScope } from '../pipeline/scope.js';
import type { Store } from '../store/store.js';
import type { Clock } from '../store/types.js';
import type { Branding } from './pages.js';

/** What the gateway's own routes need; built once in app.ts. */
export interface WebContext {
  prefix: string;
  /** Liveness and readiness (ops/health.ts). */
  health: Health;
  branding: Branding;
  store: Store;
  /** Every change to users, groups, invitations and sign-ups goes through accounts/ with this. */
  accounts: Accounts;
  sessions: SessionManager;
  apiTokens: ApiTokenManager;
  mailer: Mailer;
  mfaChallenge: MfaChallenge;
  secondFactor: SecondFactorGate;
  /** password.enabled: false turns off the password form, password reset and HTTP Basic. */
  passwordsEnabled: boolean;
  /** Single sign-on providers (null: none configured) and whether sign-out continues at the provider. */
  sso: { client: SsoClient; seal: FlowSeal; logoutAtProvider: boolean } | null;
  signup: { mode: 'closed' | 'domain' | 'open'; allowedDomains: readonly string[]; autoApprove: boolean };
  /** Where links in emails point: server.public_url, else the address the gateway listens on. Never a request header. */
  linkBase(): string;
  csrf: CsrfGuard;
  throttle: SignInThrottle;
  cookie: CookiePolicy;
  cookieName: string;
  /** Session cookies last as long as the absolute session timeout. */
  cookieMaxAgeSeconds: number;
  passwordPolicy: PasswordPolicy;
  now: Clock;
  log: FastifyBaseLogger;
  identify(request: FastifyRequest): Promise<Identity>;
  /** Origins besides the gateway's own that `next` may name after sign-in (forward-auth: the apps' hosts). */
  nextOrigins: readonly string[];
  /** The origin browsers must show in Origin for a form post to be accepted. */
  expectedOrigin(scope: RequestScope): string;
  /** The JWKS document of the identity JWT, or null when the JWT is off. */
  jwks: (() => object) | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    scope: RequestScope;
  }
}

/** True when the client asked for JSON (the page helper's in-page dialog). */
export function wantsJson(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? '';
  return accept.includes('application/json') && !accept.includes('text/html');
}

export function formField(body: unknown, name: string): string {
  if (typeof body !== 'object' || body === null) return '';
  const value = (body as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : '';
}

/** True when no mail server is configured: "sent" would be untrue, the message went to the outbox (mail/mailer.ts). */
export function mailGoesToOutbox(mailer: Pick<Mailer, 'description'>): boolean {
  return mailer.description.startsWith('outbox ');
}
