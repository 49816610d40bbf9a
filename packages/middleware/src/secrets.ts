import fsp from 'node:fs/promises';
import path from 'node:path';
import { argAfter, type Workdir } from './workdir';

/**
 * Config keys whose values are secrets, by name, as Airbyte's log masking knows them (the
 * middleware has the configs but not the connectors' specs, so it goes by the key).
 */
const SECRET_KEY =
  /pass(word|wd|phrase)?$|secret|token|api[_-]?key|private[_-]?key|access[_-]?key|credentials|service[_-]?account|^key$/i;
const MIN_SECRET_LENGTH = 4;
export const MASK = '**********';

/** String values under secret-looking keys of a config (everything inside such a key). */
export function secretValues(config: unknown): string[] {
  const out = new Set<string>();
  const collect = (v: unknown, secret: boolean, depth: number) => {
    if (depth > 20) return;
    if (typeof v === 'string') {
      if (secret && v.length >= MIN_SECRET_LENGTH) out.add(v);
      return;
    }
    if (Array.isArray(v)) {
      for (const x of v) collect(x, secret, depth + 1);
      return;
    }
    if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) collect(x, secret || SECRET_KEY.test(k), depth + 1);
    }
  };
  collect(config, false, 0);
  return [...out];
}

/** Masks known secret values in log text. */
export class Scrubber {
  private readonly values: string[];

  constructor(values: Iterable<string>) {
    // Longest first, so a secret containing another is masked whole.
    this.values = [...new Set(values)].sort((a, b) => b.length - a.length);
  }

  get empty(): boolean {
    return this.values.length === 0;
  }

  scrub(text: string): string {
    for (const v of this.values) if (text.includes(v)) text = text.replaceAll(v, MASK);
    return text;
  }
}

/** The secrets of every connector config of the working directory (files named by `--config`). */
export async function loadScrubber(w: Workdir): Promise<Scrubber> {
  const values: string[] = [];
  for (const c of w.plan.connectors) {
    const file = argAfter(c.args, '--config');
    if (!file) continue;
    try {
      values.push(...secretValues(JSON.parse(await fsp.readFile(path.resolve(w.dir, file), 'utf8'))));
    } catch {
      // A missing or broken config is the connector's to report.
    }
  }
  return new Scrubber(values);
}
