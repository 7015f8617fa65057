import { html, type SafeHtml } from './html.js';

type Content = Parameters<typeof html>[1];

/** The hidden CSRF input every form of a signed-in page carries. */
export function csrfField(token: string): SafeHtml {
  return html`<input type="hidden" name="csrf" value="${token}">`;
}

/** A POST button in its own form (works without JavaScript). */
export function postButton(csrf: string, url: string, label: string, fields: Record<string, string> = {}, options: { danger?: boolean; aria?: string } = {}): SafeHtml {
  return html`<form method="post" action="${url}" class="inline-form">${csrfField(csrf)}${Object.entries(fields).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}<button type="submit" class="button button-small ${options.danger ? 'button-danger' : 'button-secondary'}"${options.aria ? html` aria-label="${options.aria}"` : html``}>${label}</button></form>`;
}

export interface Column<T> {
  label: string;
  /** The header is read by screen readers only (a column of buttons). */
  hiddenLabel?: boolean;
  cell: (row: T) => Content;
  /** A query value that sorts by this column (see `sort` in dataTable). */
  sortKey?: string;
  className?: string;
}

/**
 * A table that stays readable on a phone: below 40rem each row becomes a card of "label: value"
 * lines (the labels come from `data-label`), so the page never grows wider than the screen.
 * Sortable columns link to `sort.href(key, dir)` and say which way they sort (aria-sort).
 */
export function dataTable<T>(options: {
  columns: ReadonlyArray<Column<T>>;
  rows: readonly T[];
  labelledBy?: string;
  label?: string;
  empty?: string;
  sort?: { key: string; dir: 'asc' | 'desc'; href: (key: string, dir: 'asc' | 'desc') => string };
  rowId?: (row: T) => string;
}): SafeHtml {
  const { columns, rows, sort } = options;
  if (rows.length === 0 && options.empty) return html`<p class="muted empty">${options.empty}</p>`;
  const header = (c: Column<T>) => {
    if (c.hiddenLabel) return html`<th scope="col"><span class="visually-hidden">${c.label}</span></th>`;
    if (!sort || !c.sortKey) return html`<th scope="col">${c.label}</th>`;
    const active = sort.key === c.sortKey;
    const next = active && sort.dir === 'asc' ? 'desc' : 'asc';
    return html`<th scope="col"${active ? html` aria-sort="${sort.dir === 'asc' ? 'ascending' : 'descending'}"` : html``}><a class="sort-link" href="${sort.href(c.sortKey, next)}">${c.label}${active ? html`<span aria-hidden="true"> ${sort.dir === 'asc' ? '▲' : '▼'}</span>` : html``}</a></th>`;
  };
  return html`<div class="table-wrap"><table class="table table-stack"${options.labelledBy ? html` aria-labelledby="${options.labelledBy}"` : options.label ? html` aria-label="${options.label}"` : html``}>
<thead><tr>${columns.map(header)}</tr></thead>
<tbody>
${rows.map(
  (row) => html`<tr${options.rowId ? html` id="${options.rowId(row)}"` : html``}>${columns.map((c) => html`<td${c.hiddenLabel ? html`` : html` data-label="${c.label}"`}${c.className ? html` class="${c.className}"` : html``}><div class="cell">${c.cell(row)}</div></td>`)}</tr>`,
)}
</tbody></table></div>`;
}

/** Previous / next links that keep the other query values. */
export function pager(url: string, params: Record<string, string>, page: number, hasNext: boolean): SafeHtml {
  const link = (p: number) => `${url}?${new URLSearchParams({ ...Object.fromEntries(Object.entries(params).filter(([, v]) => v !== '')), page: String(p) }).toString()}`;
  if (page <= 1 && !hasNext) return html``;
  return html`<nav class="pager" aria-label="Pages">${page > 1 ? html`<a href="${link(page - 1)}" rel="prev">← Previous</a>` : html`<span></span>`}<span class="muted">Page ${page}</span>${hasNext ? html`<a href="${link(page + 1)}" rel="next">Next →</a>` : html`<span></span>`}</nav>`;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "just now", "3 min ago", "2 h ago", "yesterday", "5 days ago", then the date; "in 3 days" for the future. */
export function relativeTime(at: number, now: number): string {
  const diff = now - at;
  const ahead = diff < 0;
  const span = Math.abs(diff);
  const say = (text: string) => (ahead ? `in ${text}` : `${text} ago`);
  if (span < MINUTE) return ahead ? 'in a moment' : 'just now';
  if (span < HOUR) return say(`${Math.floor(span / MINUTE)} min`);
  if (span < DAY) return say(`${Math.floor(span / HOUR)} h`);
  const days = Math.floor(span / DAY);
  if (days === 1) return ahead ? 'tomorrow' : 'yesterday';
  if (days < 30) return say(`${days} days`);
  return new Date(at).toISOString().slice(0, 10);
}

/** A time in words with the exact UTC time on hover (title) and for machines (datetime). */
export function timeAgo(at: number | null, now: number): SafeHtml {
  if (at === null) return html`<span class="muted">—</span>`;
  const iso = new Date(at).toISOString();
  return html`<time datetime="${iso}" title="${iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}">${relativeTime(at, now)}</time>`;
}

/** A value of an audit detail as text: lists joined, nested objects as compact JSON, times (`…_at`, epoch ms) as UTC. */
function detailValue(key: string, value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'number' && /(^|_)at$/.test(key) && value > 1e11 && value < 1e14) return new Date(value).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  if (Array.isArray(value)) return value.length ? value.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(', ') : 'none';
  if (typeof value === 'object') return JSON.stringify(value);
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return String(value);
}

/** Key-value pairs as a compact definition list ("reason: unknown_account"). */
export function keyValues(entries: ReadonlyArray<[string, unknown]>): SafeHtml {
  if (entries.length === 0) return html``;
  return html`<dl class="kv">${entries.map(([key, value]) => html`<div><dt>${key.replace(/_/g, ' ')}</dt><dd>${detailValue(key, value)}</dd></div>`)}</dl>`;
}
