/**
 * Every failure the gateway reports has a stable code; the code decides the HTTP status and the
 * words a user sees. Callers and tests match on `code`, never on message text.
 */
export const ERROR_TABLE = {
  BAD_PATH: { status: 400, title: 'Bad request', detail: 'The request path is not valid.' },
  BAD_REQUEST: { status: 400, title: 'Bad request', detail: 'The request could not be understood.' },
  BAD_CALLBACK: { status: 400, title: 'Bad request', detail: 'The Dash callback request is not valid JSON with an "output".' },
  CSRF_FAILED: { status: 403, title: 'Request refused', detail: 'The form expired or came from another site. Go back, reload the page and try again.' },
  NOT_FOUND: { status: 404, title: 'Not found', detail: 'There is nothing at this address.' },
  MCP_REFUSED: { status: 403, title: 'Not available', detail: "Dash's MCP endpoint would run callbacks around the gateway's access rules, so it is refused while access or callback rules exist." },
  BAD_UPGRADE: { status: 400, title: 'Bad request', detail: 'A request with a body cannot be an upgrade, and only a GET can open a WebSocket.' },
  FORWARD_AUTH_UNTRUSTED: { status: 403, title: 'Request refused', detail: 'Forward-auth checks are answered only for the front proxies listed in server.trusted_proxies.' },
  FORWARD_AUTH_HEADERS: { status: 400, title: 'Bad request', detail: 'A forward-auth check needs exactly one each of X-Forwarded-Method, X-Forwarded-Proto, X-Forwarded-Host and X-Forwarded-Uri, well formed.' },
  FORWARD_AUTH_RESERVED_HEADER: { status: 400, title: 'Bad request', detail: 'The request carries a header only the gateway may set: an identity header (X-Forwarded-User, Remote-User, X-Dashgate-…), a path or method override (X-Original-URL, X-Rewrite-URL, X-HTTP-Method-Override, …), or any such name spelled with "_". The front proxy could pass it on to the app, so the request is refused.' },
  FORWARD_AUTH_OWN_PATH: { status: 400, title: 'Bad request', detail: "The gateway's own pages are not judged by forward-auth: route the prefix (/_dashgate/) to Dashgate without the auth check." },
  FORWARD_AUTH_NEEDS_BODY: { status: 403, title: 'Not available', detail: 'This request is judged by its body (a Dash callback while access or callback rules exist), which forward-auth never sees: serve the app through the gateway itself.' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Request too large', detail: 'The request body is larger than the gateway accepts.' },
  UNSUPPORTED_ENCODING: { status: 415, title: 'Unsupported request', detail: 'Compressed request bodies are not accepted here.' },
  SIGN_IN_BUSY: { status: 503, title: 'Signing in is busy', detail: 'Many people are signing in right now. Try again in a moment.', retryAfterSeconds: 1 },
  STORE_UNAVAILABLE: { status: 503, title: 'Sign-in is unavailable for a moment', detail: 'The gateway cannot reach its database right now. Try again shortly.', retryAfterSeconds: 5 },
  UPSTREAM_UNAVAILABLE: { status: 502, title: 'The app is not answering', detail: 'The application behind this gateway is not reachable right now. It may be starting or restarting; try again in a moment.', retryAfterSeconds: 5 },
  PAGE_TOO_LARGE: { status: 502, title: 'The page is too large', detail: 'The application sent a page larger than the gateway reads (page_helper.max_html_bytes) while it removes other pages\' layouts from page sources.' },
  UNREADABLE_PAGE: { status: 502, title: 'The page could not be read', detail: 'The application sent a page in an encoding the gateway cannot read while it removes other pages\' layouts from page sources.' },
  UPSTREAM_TIMEOUT: { status: 504, title: 'The app took too long', detail: 'The application behind this gateway did not answer in time. Try again in a moment.' },
  INTERNAL: { status: 500, title: 'Something went wrong', detail: 'The gateway hit an unexpected error. It has been logged.' },
} as const satisfies Record<string, { status: number; title: string; detail: string; retryAfterSeconds?: number }>;

/** Seconds to wait before trying again, for codes that have one (Retry-After). */
export function retryAfterOf(code: GatewayErrorCode): number | undefined {
  const entry = ERROR_TABLE[code];
  return 'retryAfterSeconds' in entry ? entry.retryAfterSeconds : undefined;
}

export type GatewayErrorCode = keyof typeof ERROR_TABLE;

export class GatewayError extends Error {
  readonly code: GatewayErrorCode;
  readonly status: number;

  constructor(code: GatewayErrorCode, options?: { cause?: unknown; message?: string }) {
    super(options?.message ?? ERROR_TABLE[code].detail, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.status = ERROR_TABLE[code].status;
  }
}

/** Problems found while loading configuration, each prefixed with its path (`session.idle_timeout: …`). */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** A command-line usage mistake: printed as one line, exit code 2. */
export class UsageError extends Error {
  readonly code = 'USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
