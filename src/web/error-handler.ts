import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isScriptedRequest } from '../pipeline/outcome.js';
import type { WebContext } from './context.js';
import { renderRefusalPage } from './refusal-page.js';
import { WebRefusal } from './web-refusal.js';

/**
 * The one answer of every refusal on the gateway's own pages: a browser navigating gets a page
 * (who is signed in, the way back, `data-code`) or the redirect the refusal names; a script gets
 * `{"error": code, "message": …}`. Both carry `x-dashgate: <code>`. Errors that are not
 * refusals go on to the gateway's handler (app.ts), which logs them.
 */
export function createWebErrorHandler(ctx: Pick<WebContext, 'branding' | 'prefix'>) {
  return async function answerRefusal(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) {
    if (!(error instanceof WebRefusal)) throw error;
    reply.header('x-dashgate', error.wireCode).header('cache-control', 'no-store');
    const scripted = request.scope ? isScriptedRequest(request.raw, request.scope) : true;
    if (scripted) {
      return reply.code(error.status).type('application/json; charset=utf-8').send({
        error: error.wireCode,
        message: error.message,
        ...(error.location ? { url: error.location } : {}),
        ...(error.issues.length ? { issues: error.issues } : {}),
      });
    }
    if (error.location) return reply.redirect(error.location, 303);
    const user = error.identity?.kind === 'user' ? error.identity.user : null;
    const page = renderRefusalPage(ctx.branding, {
      title: error.title,
      message: error.message,
      code: error.wireCode,
      status: error.status,
      at: { user, path: request.method === 'GET' ? request.url : `${ctx.prefix}/account` },
      ...(error.back ? { back: error.back } : {}),
      ...(error.issues.length ? { issues: error.issues } : {}),
    });
    return reply.code(error.status).type('text/html; charset=utf-8').send(page);
  };
}
