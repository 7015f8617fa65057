import { frame, type AdminFrame } from './admin-pages.js';
import { dataTable } from './components.js';
import { html, type SafeHtml } from './html.js';
import type { Branding } from './pages.js';

/** Audit actions that count as a failed sign-in on the dashboard. */
export const SIGN_IN_FAILURES: readonly string[] = ['login.failure', 'login.mfa_failure', 'token.failure', 'basic.failure', 'login.throttled'];

export interface DashboardView {
  users: { total: number; active: number; pending: number; admins: number };
  activeSessions: number;
  openInvites: number;
  /** Oldest first; `day` in days since the epoch (UTC). */
  days: ReadonlyArray<{ day: number; signIns: number; failures: number }>;
}

const dayLabel = (day: number) => new Date(day * 86_400_000).toISOString().slice(5, 10);

/**
 * Sign-ins and failures per day as a small bar chart: inline SVG (the CSP allows no scripts or
 * inline styles; colours come from the stylesheet), described by its title and by the table
 * beside it for screen readers and exact numbers.
 */
function signInChart(days: DashboardView['days']): SafeHtml {
  const width = 560;
  const height = 160;
  const top = 12;
  const bottom = 24;
  const max = Math.max(1, ...days.map((d) => Math.max(d.signIns, d.failures)));
  const slot = width / Math.max(1, days.length);
  const bar = Math.max(2, slot / 2 - 3);
  const y = (n: number) => top + (height - top - bottom) * (1 - n / max);
  const total = days.reduce((s, d) => s + d.signIns, 0);
  const failed = days.reduce((s, d) => s + d.failures, 0);
  return html`<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="chart-title">
<title id="chart-title">Sign-ins per day over the last ${days.length} days: ${total} successful, ${failed} failed.</title>
<line class="chart-axis" x1="0" y1="${height - bottom}" x2="${width}" y2="${height - bottom}"></line>
${days.map((d, i) => {
  const x = i * slot + 2;
  return html`<g><rect class="bar-ok" x="${x}" y="${y(d.signIns)}" width="${bar}" height="${height - bottom - y(d.signIns)}"></rect><rect class="bar-failed" x="${x + bar + 1}" y="${y(d.failures)}" width="${bar}" height="${height - bottom - y(d.failures)}"></rect>${i % 2 === 0 ? html`<text class="chart-label" x="${x + bar}" y="${height - 6}" text-anchor="middle">${dayLabel(d.day)}</text>` : html``}</g>`;
})}
</svg>`;
}

export function renderDashboardPage(branding: Branding, f: AdminFrame, view: DashboardView): string {
  const base = `${branding.prefix}/admin`;
  const card = (label: string, value: number, href: string, note?: string) =>
    html`<a class="stat" href="${href}"><span class="stat-value">${value}</span><span class="stat-label">${label}</span>${note ? html`<span class="stat-note">${note}</span>` : html``}</a>`;
  const week = view.days.slice(-7);
  return frame(
    branding,
    'dashboard',
    'Overview',
    f,
    html`<div class="stats">
${card('Users', view.users.total, `${base}/users`, `${view.users.active} active, ${view.users.admins} admin${view.users.admins === 1 ? '' : 's'}`)}
${card('Signed-in sessions', view.activeSessions, `${base}/sessions`)}
${card('Waiting sign-ups', view.users.pending, `${base}/signups`)}
${card('Open invitations', view.openInvites, `${base}/invites`)}
${card('Sign-ins, last 7 days', week.reduce((s, d) => s + d.signIns, 0), `${base}/audit?action=login.success`)}
${card('Failed sign-ins, last 7 days', week.reduce((s, d) => s + d.failures, 0), `${base}/audit?action=login.failure`)}
</div>
<section class="panel" aria-labelledby="chart-heading">
<h2 id="chart-heading">Sign-ins, last ${view.days.length} days</h2>
<p class="legend"><span class="swatch swatch-ok" aria-hidden="true"></span> successful <span class="swatch swatch-failed" aria-hidden="true"></span> failed</p>
${signInChart(view.days)}
<details><summary>The numbers</summary>
${dataTable({
  label: 'Sign-ins per day',
  rows: [...view.days].reverse(),
  columns: [
    { label: 'Day (UTC)', cell: (d) => new Date(d.day * 86_400_000).toISOString().slice(0, 10) },
    { label: 'Successful', cell: (d) => d.signIns },
    { label: 'Failed', cell: (d) => d.failures },
  ],
})}
</details>
</section>`,
  );
}
