import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { WebRefusal } from './web-refusal.js';

/**
 * What a route accepts, declared with zod and checked as a preHandler (after the guards, so an
 * anonymous or forged request is refused for that, not for its fields): the parsed value
 * replaces `request.body` / `request.query` / `request.params`, so the handler reads typed,
 * trimmed, bounded values instead of casting. A mismatch is BAD_INPUT with every issue named.
 *
 * Why not fastify-type-provider-zod: it installs validator and serializer compilers on the
 * instance, which would run before the preHandler guards (an anonymous POST with odd fields
 * would get 400 instead of being sent to sign in) and change every other route of the scope,
 * the proxy's neighbours included. Thirty lines of our own keep the order and the scope.
 */
export function input<Body extends z.ZodType = z.ZodUnknown, Query extends z.ZodType = z.ZodUnknown, Params extends z.ZodType = z.ZodUnknown>(schemas: { body?: Body; query?: Query; params?: Params }) {
  return async function checkInput(request: FastifyRequest) {
    const issues: Array<{ field: string; message: string }> = [];
    const parts = [
      ['body', schemas.body],
      ['query', schemas.query],
      ['params', schemas.params],
    ] as const;
    for (const [part, schema] of parts) {
      if (!schema) continue;
      const result = schema.safeParse(request[part] ?? {});
      if (result.success) (request as unknown as Record<string, unknown>)[part] = result.data;
      else for (const issue of result.error.issues) issues.push({ field: issue.path.join('.') || part, message: issue.message });
    }
    if (issues.length) throw new WebRefusal('BAD_INPUT', { issues });
  };
}

/** A form's text field: absent is '', surrounding space trimmed, at most `max` characters. */
export const text = (max = 200) => z.string().trim().max(max).default('');

/** A hidden id field (a session, an invitation): bounded, no spaces. */
export const id = () => z.string().max(200).regex(/^[\w.~-]*$/, 'not an id').default('');

/** The console's page number: 1 when absent or unreadable, at most 10 000. */
export const pageNumber = () => z.coerce.number().int().min(1).max(10_000).catch(1);

/** A user's id in the path (a UUID). */
export const UserParams = z.object({ id: z.string().regex(/^[0-9a-f-]{36}$/, 'not a user id') });
