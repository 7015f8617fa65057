import { html } from '../web/html.js';

/** One message, in plain text and HTML, with the one link it exists for. */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
  link: string;
}

interface Letter {
  appName: string;
  to: string;
  subject: string;
  lead: string;
  action: string;
  link: string;
  footnote: string;
}

/** Plain words, the app's name, one button, the link again in text; never a password. */
function letter(l: Letter): MailMessage {
  const text = `${l.lead}\n\n${l.action}:\n${l.link}\n\n${l.footnote}\n\n-- \n${l.appName}\n`;
  const body = html`<!doctype html>
<html lang="en"><body style="margin:0;padding:24px;background:#f4f6f9;font-family:system-ui,-apple-system,Segoe UI,sans-serif;color:#1b2330">
<table role="presentation" width="100%" style="max-width:520px;margin:0 auto;background:#ffffff;border:1px solid #cfd6e0;border-radius:12px">
<tr><td style="padding:28px">
<p style="margin:0 0 16px;font-weight:600">${l.appName}</p>
<p style="margin:0 0 20px;line-height:1.5">${l.lead}</p>
<p style="margin:0 0 20px"><a href="${l.link}" style="display:inline-block;background:#1f5fbf;color:#ffffff;text-decoration:none;font-weight:600;padding:10px 16px;border-radius:8px">${l.action}</a></p>
<p style="margin:0 0 8px;font-size:14px;color:#4a5566">If the button does not work, paste this address into your browser:</p>
<p style="margin:0 0 20px;font-size:14px;word-break:break-all"><a href="${l.link}" style="color:#1f5fbf">${l.link}</a></p>
<p style="margin:0;font-size:14px;color:#4a5566">${l.footnote}</p>
</td></tr></table></body></html>`;
  return { to: l.to, subject: l.subject, text, html: body.value, link: l.link };
}

const until = (ms: number) => new Date(ms).toUTCString().replace(' GMT', ' UTC');

export function inviteMessage(v: { appName: string; to: string; link: string; invitedBy: string | null; expiresAt: number }): MailMessage {
  return letter({
    appName: v.appName,
    to: v.to,
    subject: `You are invited to ${v.appName}`,
    lead: `${v.invitedBy ? `${v.invitedBy} invited you` : 'You are invited'} to ${v.appName}. Choose a username and a password to create your account.`,
    action: 'Accept the invitation',
    link: v.link,
    footnote: `The link works once, until ${until(v.expiresAt)}. If you did not expect this invitation, ignore this message.`,
  });
}

export function resetMessage(v: { appName: string; to: string; link: string; username: string; expiresAt: number }): MailMessage {
  return letter({
    appName: v.appName,
    to: v.to,
    subject: `Reset your ${v.appName} password`,
    lead: `Someone asked to reset the password of the account "${v.username}" on ${v.appName}. If that was you, choose a new password; signing in everywhere else ends.`,
    action: 'Choose a new password',
    link: v.link,
    footnote: `The link works once, until ${until(v.expiresAt)}. If you did not ask for this, ignore this message: your password stays as it is.`,
  });
}

export function verifyMessage(v: { appName: string; to: string; link: string; username: string; expiresAt: number }): MailMessage {
  return letter({
    appName: v.appName,
    to: v.to,
    subject: `Confirm your email address for ${v.appName}`,
    lead: `Someone signed up for ${v.appName} as "${v.username}" with this address. If that was you, confirm the address to finish.`,
    action: 'Confirm my address',
    link: v.link,
    footnote: `The link works once, until ${until(v.expiresAt)}. If you did not sign up, ignore this message; the account is never activated.`,
  });
}
