import { frame, type AdminFrame } from './admin-pages.js';
import { DataTable } from './components.js';
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

const isoDay = (day: number) => new Date(day * 86_400_000).toISOString().slice(0, 10);

/**
 * Sign-ins and failures per day as a small bar chart: inline SVG (the CSP allows no scripts or
 * inline styles; colours come from the stylesheet), described by its title, with the numbers in
 * a table below for screen readers and exact values.
 */
function SignInChart({ days }: { days: DashboardView['days'] }) {
  const width = 560;
  const height = 160;
  const top = 14;
  const bottom = 24;
  const max = Math.max(1, ...days.map((d) => Math.max(d.signIns, d.failures)));
  const slot = width / Math.max(1, days.length);
  const bar = Math.max(2, slot / 2 - 3);
  const y = (n: number) => top + (height - top - bottom) * (1 - n / max);
  const total = days.reduce((s, d) => s + d.signIns, 0);
  const failed = days.reduce((s, d) => s + d.failures, 0);
  return (
    <svg class="chart" viewBox={`0 0 ${width} ${height}`} role="img" aria-labelledby="chart-title">
      <title id="chart-title">{`Sign-ins per day over the last ${days.length} days: ${total} successful, ${failed} failed.`}</title>
      <line class="chart-axis" x1={0} y1={top} x2={width} y2={top}></line>
      <text class="chart-label" x={2} y={top - 2}>
        {max}
      </text>
      <line class="chart-axis" x1={0} y1={height - bottom} x2={width} y2={height - bottom}></line>
      {days.map((d, i) => {
        const x = i * slot + 2;
        return (
          <g>
            <rect class="bar-ok" x={x} y={y(d.signIns)} width={bar} height={height - bottom - y(d.signIns)}></rect>
            <rect class="bar-failed" x={x + bar + 1} y={y(d.failures)} width={bar} height={height - bottom - y(d.failures)}></rect>
            {i % 2 === 0 ? (
              <text class="chart-label" x={x + bar} y={height - 6} text-anchor="middle">
                {isoDay(d.day).slice(5)}
              </text>
            ) : null}
          </g>
        );
      })}
    </svg>
  );
}

function Stat({ label, value, href, note }: { label: string; value: number; href: string; note?: string }) {
  return (
    <a class="stat" href={href}>
      <span class="stat-value">{value}</span>
      <span class="stat-label">{label}</span>
      {note ? <span class="stat-note">{note}</span> : null}
    </a>
  );
}

export function renderDashboardPage(branding: Branding, f: AdminFrame, view: DashboardView): string {
  const base = `${branding.prefix}/admin`;
  const week = view.days.slice(-7);
  return frame(
    branding,
    'dashboard',
    'Overview',
    f,
    <>
      <div class="stats">
        <Stat label="Users" value={view.users.total} href={`${base}/users`} note={`${view.users.active} active, ${view.users.admins} admin${view.users.admins === 1 ? '' : 's'}`} />
        <Stat label="Signed-in sessions" value={view.activeSessions} href={`${base}/sessions`} />
        <Stat label="Waiting sign-ups" value={view.users.pending} href={`${base}/signups`} />
        <Stat label="Open invitations" value={view.openInvites} href={`${base}/invites`} />
        <Stat label="Sign-ins, last 7 days" value={week.reduce((s, d) => s + d.signIns, 0)} href={`${base}/audit?action=login.success`} />
        <Stat label="Failed sign-ins, last 7 days" value={week.reduce((s, d) => s + d.failures, 0)} href={`${base}/audit?action=login.failure`} />
      </div>
      <section class="panel" aria-labelledby="chart-heading">
        <h2 id="chart-heading">Sign-ins, last {view.days.length} days</h2>
        <p class="legend">
          <span class="swatch swatch-ok" aria-hidden="true"></span> successful <span class="swatch swatch-failed" aria-hidden="true"></span> failed
        </p>
        <SignInChart days={view.days} />
        <details>
          <summary>The numbers</summary>
          <DataTable
            label="Sign-ins per day"
            rows={[...view.days].reverse()}
            columns={[
              { label: 'Day (UTC)', cell: (d) => isoDay(d.day) },
              { label: 'Successful', cell: (d) => d.signIns },
              { label: 'Failed', cell: (d) => d.failures },
            ]}
          />
        </details>
      </section>
    </>,
  );
}
