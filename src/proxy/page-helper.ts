/**
 * Step 8: the page helper. HTML pages from the app get one small script that turns the
 * gateway's 401 on a Dash callback into an in-page sign-in dialog and shows an account badge.
 */
export interface PageHelperOptions {
  prefix: string;
  badge: { enabled: boolean; position: string };
  appName: string;
  /** Marks the gateway's refusals on Dash's WebSocket (an app's error text cannot carry it). */
  mark: string;
}

/**
 * The tag inserted into HTML pages; attributes carry the settings so the script needs no request.
 * Not deferred: it must wrap fetch and SharedWorker before Dash's renderer uses them.
 */
export function helperScriptTag(options: PageHelperOptions): Buffer {
  const attrs = [
    `src="${options.prefix}/static/helper.js"`,
    `data-prefix="${escapeAttribute(options.prefix)}"`,
    `data-badge="${options.badge.enabled ? escapeAttribute(options.badge.position) : 'off'}"`,
    `data-app-name="${escapeAttribute(options.appName)}"`,
    `data-mark="${escapeAttribute(options.mark)}"`,
  ];
  return Buffer.from(`<script ${attrs.join(' ')}></script>`, 'latin1');
}

/** Whether a response is an HTML page the helper can be put into (HEAD: whose GET would get it). */
export function isInjectableHtml(method: string, status: number, headers: Record<string, string | string[]>): boolean {
  if ((method !== 'GET' && method !== 'HEAD') || status !== 200) return false;
  const type = headers['content-type'];
  if (typeof type !== 'string' || !/^\s*text\/html\b/i.test(type)) return false;
  const encoding = headers['content-encoding'];
  return encoding === undefined || encoding === 'identity';
}

/**
 * Inserts `tag` right after the opening `<head>` tag (else before `</body>`, else at the end).
 * After the opening tag rather than before `</head>`: a `</head>` inside one of the page's own
 * inline scripts would otherwise receive the tag and end that script early, and it runs before
 * the page's own scripts. Works on bytes seen as latin1 so the
 * page's own encoding is never touched.
 */
export function injectIntoHtml(page: Buffer, tag: Buffer): Buffer {
  const text = page.toString('latin1');
  const head = /<head(?:\s[^>]*)?>/i.exec(text);
  let at = head ? head.index + head[0].length : text.search(/<\/body\s*>/i);
  if (at === -1) at = page.length;
  return Buffer.concat([page.subarray(0, at), tag, page.subarray(at)]);
}

function escapeAttribute(value: string): string {
  return value.replace(/[&"<>]/g, (c) => `&#${c.charCodeAt(0)};`);
}
