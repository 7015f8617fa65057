import type { FastifyReply, FastifyRequest } from 'fastify';
import { readCookie, serializeScopedCookie } from '../auth/cookies.js';
import type { Session } from '../auth/sessions.js';
import type { WebContext } from './context.js';

/** The ID token waiting for the second step; lives under /login like the second step's own cookie. */
export const ID_TOKEN_COOKIE = 'dashgate_sso_idt';

export function idTokenCookie(ctx: WebContext, value: string, maxAgeSeconds: number): string {
  return serializeScopedCookie(ctx.cookie, { name: ID_TOKEN_COOKIE, value, path: `${ctx.prefix}/login`, maxAgeSeconds });
}

/**
 * After the second step of an SSO sign-in: keeps the ID token the first step carried, when it
 * belongs to this user and to the provider that step named, for sign-out at the provider; clears the cookie.
 */
export async function keepCarriedIdToken(ctx: WebContext, request: FastifyRequest, reply: FastifyReply, session: Session, firstFactor: string): Promise<void> {
  const raw = readCookie(request.headers.cookie, ID_TOKEN_COOKIE);
  if (raw === undefined || !ctx.sso) return;
  reply.header('set-cookie', idTokenCookie(ctx, '', 0));
  const carried = await ctx.sso.seal.openIdToken(raw);
  if (carried && carried.userId === session.userId && firstFactor === `sso:${carried.provider}`) await ctx.store.sso.rememberIdToken(session.id, carried.provider, carried.idToken);
}
