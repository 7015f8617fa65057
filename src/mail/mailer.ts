import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { MailMessage } from './messages.js';

/** Sends one message; the gateway never waits on anything else about mail. */
export interface Mailer {
  send(message: MailMessage): Promise<void>;
  /** "smtp://host:port" or "outbox <dir>", for start-up logs and the admin console. */
  readonly description: string;
}

/**
 * SMTP through nodemailer when `mail.smtp` is set; otherwise every message is written as an
 * `.eml` file (mode 0600) to `<data_dir>/outbox/` and its link is logged, so a single machine
 * without a mail server still works (the person running it forwards the link).
 */
export function createMailer(config: Pick<Config, 'mail' | 'data_dir' | 'branding'>, logger: Logger, env: NodeJS.ProcessEnv = process.env): Mailer {
  const from = config.mail.from ?? `${config.branding.app_name.replace(/[<>"\r\n]/g, '')} <dashgate@localhost>`;
  const smtp = config.mail.smtp;
  if (smtp) {
    const password = smtp.password_env ? env[smtp.password_env] : undefined;
    if (smtp.password_env && password === undefined) logger.warn({ variable: smtp.password_env }, 'mail.smtp.password_env names an environment variable that is not set');
    // nodemailer is loaded at the first message, not at start-up: most requests never send mail.
    const transport = lazy(async () => (await import('nodemailer')).default.createTransport({
      host: smtp.host,
      port: smtp.port,
      secure: smtp.security === 'tls',
      requireTLS: smtp.security === 'starttls',
      ignoreTLS: smtp.security === 'none',
      ...(smtp.user ? { auth: { user: smtp.user, pass: password ?? '' } } : {}),
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 20_000,
    }));
    return {
      description: `smtp://${smtp.host}:${smtp.port} (${smtp.security})`,
      async send(message) {
        await (await transport()).sendMail({ from, to: message.to, subject: message.subject, text: message.text, html: message.html });
        logger.info({ to: message.to, subject: message.subject }, 'mail sent');
      },
    };
  }
  const outbox = join(config.data_dir, 'outbox');
  const builder = lazy(async () => (await import('nodemailer')).default.createTransport({ streamTransport: true, buffer: true, newline: 'unix' }));
  return {
    description: `outbox ${outbox}`,
    async send(message) {
      const built = await (await builder()).sendMail({ from, to: message.to, subject: message.subject, text: message.text, html: message.html });
      await mkdir(outbox, { recursive: true, mode: 0o700 });
      const file = join(outbox, `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}.eml`);
      await writeFile(file, built.message as Buffer, { mode: 0o600 });
      // No SMTP: the operator passes the link on. Only in this mode does a link reach the log.
      logger.info({ to: message.to, subject: message.subject, file, link: message.link }, 'mail written to outbox (no mail.smtp configured)');
    },
  };
}

/** Creates the value at the first call and returns the same one afterwards. */
function lazy<T extends Transporter>(create: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | null = null;
  return () => (made ??= create());
}
