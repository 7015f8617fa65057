import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { GatewayError } from '../errors.js';
import type { WebContext } from './context.js';

const STATIC_DIR = join(dirname(fileURLToPath(import.meta.url)), 'static');
const STATIC_FILES: Record<string, string> = { 'style.css': 'text/css; charset=utf-8', 'helper.js': 'text/javascript; charset=utf-8', 'passkeys.js': 'text/javascript; charset=utf-8' };

/** Health, the page helper's session endpoint, and static assets. */
export function registerSupportRoutes(app: FastifyInstance, ctx: WebContext): void {
  // The exact paths are answered ahead of the router (app.ts); these serve the spellings the router decodes.
  for (const which of ['health', 'ready'] as const) {
    app.get(`${ctx.prefix}/${which}`, async function probe(request, reply) {
      reply.hijack();
      await ctx.health.answer(which, request.raw, reply.raw);
    });
  }

  app.get(`${ctx.prefix}/api/session`, async function sessionInfo(request, reply) {
    reply.header('cache-control', 'no-store');
    const identity = await ctx.identify(request);
    if (identity.kind !== 'user') {
      // What the page helper's "session expired" dialog offers: the password form and/or the providers.
      const providers = (ctx.sso?.client.providers ?? []).map((p) => ({ id: p.id, name: p.name }));
      return reply.send({ authenticated: false, csrf: await ctx.csrf.tokenForForm(), passwords: ctx.passwordsEnabled, providers });
    }
    const { user, session } = identity;
    return reply.send({
      authenticated: true,
      username: user.username,
      name: user.displayName ?? user.username,
      email: user.email,
      groups: user.groups,
      expires_at: new Date(session.expiresAt).toISOString(),
      csrf: ctx.csrf.tokenForSession(session.id),
    });
  });

  app.get(`${ctx.prefix}/.well-known/jwks.json`, async function jwks(_request, reply) {
    if (!ctx.jwks) throw new GatewayError('NOT_FOUND');
    // Public keys only; short caching so a rotation is seen soon.
    return reply.header('cache-control', 'public, max-age=300').send(ctx.jwks());
  });

  for (const [name, type] of Object.entries(STATIC_FILES)) {
    const content = readFileSync(join(STATIC_DIR, name));
    const etag = `"${createHash('sha256').update(content).digest('base64url').slice(0, 16)}"`;
    app.get(`${ctx.prefix}/static/${name}`, async function staticFile(request, reply) {
      reply.header('etag', etag).header('cache-control', 'public, max-age=300').header('x-content-type-options', 'nosniff');
      if (request.headers['if-none-match'] === etag) return reply.code(304).send();
      return reply.type(type).send(content);
    });
  }
}
