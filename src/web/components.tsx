/**
 * The console's shared pieces as components, rendered by preact-render-to-string: every text
 * and attribute value is escaped by the renderer, so no component builds markup from strings.
 */
import type { ComponentChildren, JSX } from 'preact';
import { renderToString } from 'preact-render-to-string';

/** A whole page: the doctype and the rendered tree. */
export function renderDocument(page: JSX.Element): string {
  return `<!doctype html>\n${renderToString(page)}\n`;
}

/** The hidden CSRF input every form of a signed-in page carries. */
export function CsrfField({ token }: { token: string }) {
  return <input type="hidden" name="csrf" value={token} />;
}

/** A one-off message: errors are announced (role=alert), information politely (role=status). */
export function Notice({ kind, children }: { kind: 'error' | 'info'; children?: ComponentChildren }) {
  if (children === undefined || children === null || children === '') return null;
  return kind === 'error' ? (
    <p class="notice notice-error" role="alert" id="form-error">
      {children}
    </p>
  ) : (
    <p class="notice notice-info" role="status">
      {children}
    </p>
  );
}

/** A POST button in its own form (works without JavaScript). */
export function PostButton(props: { csrf: string; url: string; label: string; fields?: Record<string, string>; danger?: boolean; aria?: string }) {
  return (
    <form method="post" action={props.url} class="inline-form">
      <CsrfField token={props.csrf} />
      {Object.entries(props.fields ?? {}).map(([name, value]) => (
        <input type="hidden" name={name} value={value} />
      ))}
      <button type="submit" class={`button button-small ${props.danger ? 'button-danger' : 'button-secondary'}`} aria-label={props.aria}>
        {props.label}
      </button>
    </form>
  );
}

export interface Column<T> {
  label: string;
  /** The header is read by screen readers only (a column of buttons). */
  hiddenLabel?: boolean;
  cell: (row: T) => ComponentChildren;
  /** A query value that sorts by this column (see `sort`). */
  sortKey?: string;
  className?: string;
}

/**
 * A table that stays readable on a phone: below 40rem each row becomes a card of "label: value"
 * lines (the labels come from `data-label`), so the page never grows wider than the screen.
 * Sortable columns link to `sort.href(key, dir)` and say which way they sort (aria-sort).
 */
export function DataTable<T>(props: {
  columns: ReadonlyArray<Column<T>>;
  rows: readonly T[];
  labelledBy?: string;
  label?: string;
  empty?: string;
  sort?: { key: string; dir: 'asc' | 'desc'; href: (key: string, dir: 'asc' | 'desc') => string };
  rowId?: (row: T) => string;
}) {
  const { columns, rows, sort } = props;
  if (rows.length === 0 && props.empty) return <p class="muted empty">{props.empty}</p>;
  const header = (c: Column<T>) => {
    if (c.hiddenLabel)
      return (
        <th scope="col">
          <span class="visually-hidden">{c.label}</span>
        </th>
      );
    if (!sort || !c.sortKey) return <th scope="col">{c.label}</th>;
    const active = sort.key === c.sortKey;
    const next = active && sort.dir === 'asc' ? 'desc' : 'asc';
    return (
      <th scope="col" aria-sort={active ? (sort.dir === 'asc' ? 'ascending' : 'descending') : undefined}>
        <a class="sort-link" href={sort.href(c.sortKey, next)}>
          {c.label}
          {active ? <span aria-hidden="true"> {sort.dir === 'asc' ? '▲' : '▼'}</span> : null}
        </a>
      </th>
    );
  };
  return (
    <div class="table-wrap">
      <table class="table table-stack" aria-labelledby={props.labelledBy} aria-label={props.labelledBy ? undefined : props.label}>
        <thead>
          <tr>{columns.map(header)}</tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr id={props.rowId?.(row)}>
              {columns.map((c) => (
                <td data-label={c.hiddenLabel ? undefined : c.label} class={c.className}>
                  <div class="cell">{c.cell(row)}</div>
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Previous / next links that keep the other query values. */
export function Pager({ url, params, page, hasNext }: { url: string; params: Record<string, string>; page: number; hasNext: boolean }) {
  if (page <= 1 && !hasNext) return null;
  const link = (p: number) => `${url}?${new URLSearchParams({ ...Object.fromEntries(Object.entries(params).filter(([, v]) => v !== '')), page: String(p) }).toString()}`;
  return (
    <nav class="pager" aria-label="Pages">
      {page > 1 ? (
        <a href={link(page - 1)} rel="prev">
          ← Previous
        </a>
      ) : (
        <span></span>
      )}
      <span class="muted">Page {page}</span>
      {hasNext ? (
        <a href={link(page + 1)} rel="next">
          Next →
        </a>
      ) : (
        <span></span>
      )}
    </nav>
  );
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "just now", "3 min ago", "2 h ago", "yesterday", "5 days ago", then the date; "in 3 days" for the future. */
export function relativeTime(at: number, now: number): string {
  const span = Math.abs(now - at);
  const ahead = now - at < 0;
  const say = (text: string) => (ahead ? `in ${text}` : `${text} ago`);
  if (span < MINUTE) return ahead ? 'in a moment' : 'just now';
  if (span < HOUR) return say(`${Math.floor(span / MINUTE)} min`);
  if (span < DAY) return say(`${Math.floor(span / HOUR)} h`);
  const days = Math.floor(span / DAY);
  if (days === 1) return ahead ? 'tomorrow' : 'yesterday';
  if (days < 30) return say(`${days} days`);
  return new Date(at).toISOString().slice(0, 10);
}

/** An exact time as people read it: "2026-03-01 09:00:00 UTC". */
export const exactTime = (at: number) => new Date(at).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');

/** A time in words with the exact UTC time on hover (title) and for machines (datetime). */
export function TimeAgo({ at, now }: { at: number | null; now: number }) {
  if (at === null) return <span class="muted">—</span>;
  return (
    <time dateTime={new Date(at).toISOString()} title={exactTime(at)}>
      {relativeTime(at, now)}
    </time>
  );
}

/** A value of an audit detail as text: lists joined, nested objects as compact JSON, times (`…_at`, epoch ms) as UTC. */
function detailValue(key: string, value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'number' && /(^|_)at$/.test(key) && value > 1e11 && value < 1e14) return exactTime(value);
  if (Array.isArray(value)) return value.length ? value.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(', ') : 'none';
  if (typeof value === 'object') return JSON.stringify(value);
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return String(value);
}

/** Key-value pairs as a compact definition list ("reason: unknown_account"). */
export function KeyValues({ entries }: { entries: ReadonlyArray<[string, unknown]> }) {
  if (entries.length === 0) return null;
  return (
    <dl class="kv">
      {entries.map(([key, value]) => (
        <div>
          <dt>{key.replace(/_/g, ' ')}</dt>
          <dd>{detailValue(key, value)}</dd>
        </div>
      ))}
    </dl>
  );
}
