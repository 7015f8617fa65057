/** Reading Prometheus text format in tests. */
export type Labels = Record<string, string>;

/** The samples of one metric in Prometheus text format: labels and value. */
export function samples(text: string, name: string): Array<{ labels: Labels; value: number }> {
  const found: Array<{ labels: Labels; value: number }> = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const labels: Labels = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    found.push({ labels, value: Number(match[3]) });
  }
  return found;
}

/** The value of the sample whose labels include `labels` (0 when there is none yet). */
export function valueOf(text: string, name: string, labels: Labels = {}): number {
  const hit = samples(text, name).filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return hit.reduce((sum, s) => sum + s.value, 0);
}

