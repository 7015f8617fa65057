import { parse, type HTMLElement } from 'node-html-parser';

/** A page parsed with a real HTML parser (attribute order and spacing do not matter). */
export function parseHtml(page: string): HTMLElement {
  return parse(page);
}

/** The text of every body row's cells of the first table matching `selector` (whitespace collapsed). */
export function tableRows(page: string | HTMLElement, selector = 'table'): string[][] {
  const doc = typeof page === 'string' ? parse(page) : page;
  const table = doc.querySelector(selector);
  if (!table) throw new Error(`no table matches ${selector}`);
  return table.querySelectorAll('tbody tr').map((tr) => tr.querySelectorAll('td').map((td) => td.text.replace(/\s+/g, ' ').trim()));
}
