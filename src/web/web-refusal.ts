import type { Identity } from '../pipeline/identify.js';

/**
 * Why one of the gateway's own pages refused a request: one table, a stable code (sent as
 * `x-dashgate`, in JSON as `error`, in the page as `data-code`), the status, and the words.
 * Routes and guards throw a WebRefusal; one error handler (error-handler.ts) answers it.
 */
export const WEB_REFUSALS = {
  /** Browsers navigating are sent to the sign-in page instead. */
  LOGIN_REQUIRED: { status: 401, title: 'Sign in first', detail: 'Sign in to continue.' },
  ADMIN_REQUIRED: { status: 403, title: 'Administrators only', detail: 'This part of the gateway is for administrators.' },
  /** `mfa.required` covers the user and they have no factor yet; browsers navigating are sent to set one up. */
  SECOND_FACTOR_FIRST: {
    status: 403,
    title: 'Set up two-factor sign-in first',
    detail: 'Two-factor sign-in is required here. Set it up on your account page, then come back.',
  },
  CSRF_FAILED: { status: 403, title: 'Request refused', detail: 'The form expired or came from another site. Go back, reload the page and try again.' },
  BAD_INPUT: { status: 400, title: 'Bad request', detail: 'The form was not filled in as this page expects.' },
  NOT_FOUND: { status: 404, title: 'Not found', detail: 'There is nothing at this address.' },
} as const satisfies Record<string, { status: number; title: string; detail: string }>;

export type WebRefusalCode = keyof typeof WEB_REFUSALS;

export class WebRefusal extends Error {
  readonly code: WebRefusalCode;
  readonly status: number;
  readonly title: string;
  /** Who was refused, for the page ("signed in as …", switch account). */
  readonly identity: Identity | null;
  /** Where a browser navigating goes instead (sign in, set up a factor); the page is shown otherwise. */
  readonly location: string | null;
  /** A way back shown on the page. */
  readonly back: { href: string; label: string } | null;
  /** Field problems (BAD_INPUT), also in the JSON answer. */
  readonly issues: ReadonlyArray<{ field: string; message: string }>;

  constructor(
    code: WebRefusalCode,
    options: { identity?: Identity | null; location?: string; back?: { href: string; label: string }; title?: string; message?: string; issues?: ReadonlyArray<{ field: string; message: string }> } = {},
  ) {
    super(options.message ?? WEB_REFUSALS[code].detail);
    this.name = 'WebRefusal';
    this.code = code;
    this.status = WEB_REFUSALS[code].status;
    this.title = options.title ?? WEB_REFUSALS[code].title;
    this.identity = options.identity ?? null;
    this.location = options.location ?? null;
    this.back = options.back ?? null;
    this.issues = options.issues ?? [];
  }

  /** The code as it goes on the wire: `admin-required`. */
  get wireCode(): string {
    return this.code.toLowerCase().replace(/_/g, '-');
  }
}
