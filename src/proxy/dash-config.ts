/**
 * Dash writes every page's layout into the HTML of every page: with the default
 * `suppress_callback_exceptions=False`, `_dash-config.validation_layout` holds
 * `Div([<each page's layout>, app.layout])`, so anyone who may load "/" could read the static
 * content of a finance-only page in the page source. While path rules guard pages, that
 * layout is reduced to its skeleton: component types and ids (what the renderer validates
 * callbacks against), and nothing else.
 */

const OPEN = '<script id="_dash-config" type="application/json">';
const CLOSE = '</script>';

/** The page with `validation_layout` reduced to types and ids; the page unchanged when it has none. */
export function withoutPageContent(page: Buffer): Buffer {
  const text = page.toString('latin1');
  const start = text.indexOf(OPEN);
  if (start === -1) return page;
  const from = start + OPEN.length;
  const end = text.indexOf(CLOSE, from);
  if (end === -1) return page;
  let config: { validation_layout?: unknown };
  try {
    config = JSON.parse(page.subarray(from, end).toString('utf8'));
  } catch {
    return page;
  }
  if (typeof config !== 'object' || config === null || config.validation_layout === undefined) return page;
  config.validation_layout = skeleton(config.validation_layout, 0);
  // "<" escaped: the JSON sits inside a <script> element.
  const json = Buffer.from(JSON.stringify(config).replace(/</g, '\\u003c'), 'utf8');
  return Buffer.concat([page.subarray(0, from), json, page.subarray(end)]);
}

/** Components keep type, namespace, id and the components among their props; every other value goes. */
function skeleton(node: unknown, depth: number): unknown {
  if (depth > 200) return null;
  if (Array.isArray(node)) return node.map((child) => skeleton(child, depth + 1)).filter((child) => child !== null);
  if (!isComponent(node)) return null;
  const props: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(node.props ?? {})) {
    if (name === 'id') props.id = value;
    else if (isComponent(value) || (Array.isArray(value) && value.some(isComponent))) props[name] = skeleton(value, depth + 1);
  }
  return { type: node.type, namespace: node.namespace, props };
}

function isComponent(value: unknown): value is { type: unknown; namespace: unknown; props?: Record<string, unknown> } {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && 'type' in value && 'namespace' in value;
}
