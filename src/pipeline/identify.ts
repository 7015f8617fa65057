import type { IncomingMessage } from 'node:http';
import { readCookie } from '../auth/cookies.js';
import type { Session, SessionManager } from '../auth/sessions.js';
import type { User } from '../store/types.js';

export type Identity = { kind: 'anonymous' } | { kind: 'user'; user: User; session: Session };

const ANONYMOUS: Identity = Object.freeze({ kind: 'anonymous' });

/** Step 3: session cookie → session (memory cache, then store); anything else is anonymous. */
export function createIdentifier(sessions: SessionManager, cookieName: string) {
  return async function identify(req: IncomingMessage, options: { touch?: boolean } = {}): Promise<Identity> {
    const found = await sessions.validateSessionToken(readCookie(req.headers.cookie, cookieName), options);
    return found ? { kind: 'user', user: found.user, session: found.session } : ANONYMOUS;
  };
}
