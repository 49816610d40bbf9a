import type { ConnectorSpecification } from '@sluice/protocol';
import { secretPaths } from '../secrets';

function valueAt(root: unknown, path: Array<string | number>): unknown {
  let cur = root;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[p];
  }
  return cur;
}

/**
 * Builds a function that replaces every secret value of a config (plain, JSON-escaped and
 * base64) with the mask in text a connector printed. Connectors sometimes echo what they were
 * given in an error; that text goes to attempt logs and API responses.
 */
export function secretScrubber(
  spec: ConnectorSpecification | null,
  plainConfig: unknown,
): (text: string) => string {
  if (!spec) return (t) => t;
  const needles = new Set<string>();
  for (const path of secretPaths(spec.connectionSpecification as Record<string, unknown>, plainConfig)) {
    const v = valueAt(plainConfig, path);
    if (v === undefined || v === null) continue;
    const text = typeof v === 'string' ? v : JSON.stringify(v);
    // Very short values would mask unrelated text; they are also weak secrets.
    if (text.length < 4) continue;
    needles.add(text);
    needles.add(JSON.stringify(text).slice(1, -1));
    needles.add(Buffer.from(text).toString('base64').replace(/=+$/, ''));
    needles.add(Buffer.from(text).toString('base64url').replace(/=+$/, ''));
  }
  const list = [...needles].filter((n) => n.length >= 4).sort((a, b) => b.length - a.length);
  if (list.length === 0) return (t) => t;
  return (text) => {
    let out = text;
    for (const n of list) if (out.includes(n)) out = out.split(n).join('**********');
    return out;
  };
}
