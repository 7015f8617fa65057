import { z } from 'zod';
import { parseDuration } from './duration.js';

/** A duration written as `30m`, `8h`, `7d` or seconds; becomes milliseconds. */
const duration = (fallback: string) =>
  z
    .union([z.string(), z.number()])
    .default(fallback)
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === null) {
        ctx.addIssue({ code: 'custom', message: `expected a duration like "30s", "15m", "8h" or "7d", got ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      return ms;
    });

const httpUrl = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}, 'expected an http:// or https:// URL');

const prefix = z
  .string()
  .regex(/^\/[A-Za-z0-9._~-]+(?:\/[A-Za-z0-9._~-]+)*$/, 'expected a path like "/_dashgate" (no trailing slash)')
  .default('/_dashgate');

const ipOrCidr = z.string().regex(/^[0-9a-fA-F.:]+(?:\/\d{1,3})?$/, 'expected an IP address or CIDR range');

/** The one schema: types and defaults of `dashgate.yaml`. */
export const configSchema = z
  .object({
    upstream: httpUrl.optional(),
    data_dir: z.string().min(1).default('./dashgate-data'),
    prefix,
    server: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8000),
        /** The address users type, e.g. https://dash.example.com. Decides secure cookies and same-origin checks. */
        public_url: httpUrl.optional(),
        /** Peers whose X-Forwarded-For / X-Forwarded-Proto are believed. */
        trusted_proxies: z.array(ipOrCidr).default([]),
        tls: z.object({ cert: z.string().min(1), key: z.string().min(1) }).strict().optional(),
      })
      .strict()
      .prefault({}),
    database: z
      .object({
        /** Empty: SQLite in the data directory. `postgres://…`: PostgreSQL. */
        url: z
          .string()
          .refine((v) => /^(postgres|postgresql|sqlite):/.test(v), 'expected postgres://… or sqlite:<file>')
          .optional(),
      })
      .strict()
      .prefault({}),
    session: z
      .object({
        cookie_name: z.string().regex(/^[A-Za-z0-9_-]+$/, 'expected letters, digits, "_" or "-"').default('dashgate_session'),
        idle_timeout: duration('8h'),
        absolute_timeout: duration('7d'),
        /** How long a validated session is trusted from memory before the store is asked again. */
        cache_ttl: duration('5s'),
        /** Last-seen is written to the store at most this often per session. */
        touch_interval: duration('60s'),
      })
      .strict()
      .prefault({}),
    password: z
      .object({
        min_length: z.number().int().min(8, 'NIST SP 800-63B requires at least 8').max(64).default(8),
        max_length: z.number().int().min(64, 'NIST SP 800-63B requires accepting at least 64').max(4096).default(1024),
      })
      .strict()
      .prefault({}),
    branding: z
      .object({
        app_name: z.string().min(1).max(80).default('Dash app'),
        logo_url: z.string().optional(),
      })
      .strict()
      .prefault({}),
    identity_jwt: z
      .object({
        /** Send X-Dashgate-Jwt (a signed copy of the identity headers) to the app. */
        enabled: z.boolean().default(true),
        audience: z.string().min(1).default('dash-app'),
        /** Defaults to server.public_url, else "dashgate". */
        issuer: z.string().min(1).optional(),
        ttl: duration('5m').refine((ms) => ms >= 30_000 && ms <= 300_000, 'must be between 30s and 5m (the token is re-issued well before it expires)'),
      })
      .strict()
      .prefault({}),
    page_helper: z
      .object({
        enabled: z.boolean().default(true),
        badge: z
          .object({
            enabled: z.boolean().default(true),
            position: z.enum(['bottom-right', 'bottom-left', 'top-right', 'top-left']).default('bottom-right'),
          })
          .strict()
          .prefault({}),
        /** HTML responses larger than this pass through untouched. */
        max_html_bytes: z.number().int().min(1024).default(4 * 1024 * 1024),
      })
      .strict()
      .prefault({}),
    proxy: z
      .object({
        connect_timeout: duration('5s'),
        /** Time allowed for the upstream to send response headers. */
        response_timeout: duration('120s'),
      })
      .strict()
      .prefault({}),
    throttle: z
      .object({
        /** Failures allowed per account before each further try waits. */
        account_free_failures: z.number().int().min(1).default(5),
        ip_free_failures: z.number().int().min(1).default(20),
        max_delay: duration('15m'),
        window: duration('1h'),
      })
      .strict()
      .prefault({}),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        format: z.enum(['auto', 'json', 'pretty']).default('auto'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
