import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface CaughtMail {
  to: string[];
  subject: string;
  text: string;
  html: string;
}

/**
 * A real SMTP server (the `smtp-server` package) on a free loopback port that keeps every
 * message, parsed as a mail client would (mailparser). No TLS, no authentication: a local relay.
 */
export async function startMailCatcher(): Promise<{ port: number; mails: CaughtMail[]; waitFor(to: string, count?: number): Promise<CaughtMail[]>; close(): Promise<void> }> {
  const mails: CaughtMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      simpleParser(stream).then(
        (mail: ParsedMail) => {
          mails.push({
            to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
            subject: mail.subject ?? '',
            text: mail.text ?? '',
            html: typeof mail.html === 'string' ? mail.html : '',
          });
          callback();
        },
        (err: Error) => callback(err),
      );
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    mails,
    async waitFor(to, count = 1) {
      for (let i = 0; i < 200; i++) {
        const found = mails.filter((m) => m.to.includes(to.toLowerCase()));
        if (found.length >= count) return found;
        await new Promise((done) => setTimeout(done, 25));
      }
      throw new Error(`expected ${count} mail(s) to ${to}, got ${mails.filter((m) => m.to.includes(to)).length}`);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The first gateway link of a page ("reset", "invite", "verify") in a mail's text. */
export function linkIn(mail: CaughtMail, page: string): string {
  const link = new RegExp(`https?://\\S+/_dashgate/${page}\\?token=\\S+`).exec(mail.text)?.[0];
  if (!link) throw new Error(`no ${page} link in:\n${mail.text}`);
  return link;
}
