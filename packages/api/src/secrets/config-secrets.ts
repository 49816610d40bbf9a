import { SecretBox } from './box';

/** What every API response shows in place of a secret; sending it back means "unchanged". */
export const SECRET_MASK = '**********';

type Json = unknown;
type JsonSchema = Record<string, unknown>;
export type ConfigPath = Array<string | number>;

export class MaskedSecretError extends Error {
  override name = 'MaskedSecretError';
  constructor(readonly path: ConfigPath) {
    super(`${formatPath(path)}: the masked value was sent back but no secret is stored for this field`);
  }
}

export function formatPath(path: ConfigPath): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('') || '(root)';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A schema and every oneOf/anyOf/allOf branch below it: Airbyte specs put secrets in branches. */
function expand(schemas: JsonSchema[]): JsonSchema[] {
  const out: JsonSchema[] = [];
  const stack = [...schemas];
  while (stack.length) {
    const s = stack.pop()!;
    out.push(s);
    for (const key of ['oneOf', 'anyOf', 'allOf'] as const) {
      const branches = s[key];
      if (Array.isArray(branches)) for (const b of branches) if (isObject(b)) stack.push(b);
    }
  }
  return out;
}

function propertySchemas(schemas: JsonSchema[], key: string): JsonSchema[] {
  const out: JsonSchema[] = [];
  for (const s of expand(schemas)) {
    const props = s.properties;
    if (isObject(props) && isObject(props[key])) out.push(props[key] as JsonSchema);
  }
  return out;
}

function itemSchemas(schemas: JsonSchema[]): JsonSchema[] {
  const out: JsonSchema[] = [];
  for (const s of expand(schemas)) if (isObject(s.items)) out.push(s.items as JsonSchema);
  return out;
}

/**
 * The concrete paths in `config` whose spec marks them `airbyte_secret`, in any branch.
 * Walking the config (not just the schema) finds secrets inside arrays and chosen oneOf branches.
 */
export function secretPaths(spec: JsonSchema, config: Json): ConfigPath[] {
  const found: ConfigPath[] = [];
  const visit = (schemas: JsonSchema[], value: Json, path: ConfigPath) => {
    if (schemas.length === 0) return;
    if (Array.isArray(value)) {
      const items = itemSchemas(schemas);
      value.forEach((v, i) => {
        visit(items, v, [...path, i]);
      });
      return;
    }
    if (!isObject(value)) return;
    for (const [key, child] of Object.entries(value)) {
      const candidates = propertySchemas(schemas, key);
      if (candidates.some((c) => c.airbyte_secret === true)) found.push([...path, key]);
      else visit(candidates, child, [...path, key]);
    }
  };
  visit([spec], config, []);
  return found;
}

function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

function getAt(root: Json, path: ConfigPath): Json {
  let cur: Json = root;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, Json>)[p];
  }
  return cur;
}

function setAt(root: Json, path: ConfigPath, value: Json): void {
  let cur = root as Record<string | number, Json>;
  for (const p of path.slice(0, -1)) cur = cur[p] as Record<string | number, Json>;
  cur[path[path.length - 1]!] = value;
}

function mapLeaves(value: Json, fn: (leaf: Json) => Json): Json {
  if (Array.isArray(value)) return value.map((v) => mapLeaves(v, fn));
  if (isObject(value)) {
    const out: Record<string, Json> = {};
    for (const [k, v] of Object.entries(value)) out[k] = mapLeaves(v, fn);
    return out;
  }
  return fn(value);
}

/** Encrypts every secret field that is not encrypted yet; the result is what the database stores. */
export function sealConfig(spec: JsonSchema, config: Json, box: SecretBox): Json {
  const out = clone(config);
  for (const path of secretPaths(spec, out)) {
    const v = getAt(out, path);
    if (!SecretBox.isSealed(v)) setAt(out, path, box.seal(v));
  }
  return out;
}

/** The plain config a connector needs; only the launch path calls this. */
export function openConfig(stored: Json, box: SecretBox): Json {
  return mapLeaves(stored, (leaf) => (SecretBox.isSealed(leaf) ? box.open(leaf) : leaf));
}

/**
 * What an API response may show. Any encrypted value is masked whatever the current spec
 * says (a spec upgrade must not un-mask an old secret), and so is any plain value the spec
 * marks secret.
 */
export function maskConfig(spec: JsonSchema, config: Json): Json {
  const out = mapLeaves(config, (leaf) => (SecretBox.isSealed(leaf) ? SECRET_MASK : leaf));
  for (const path of secretPaths(spec, out)) setAt(out, path, SECRET_MASK);
  return out;
}

/**
 * An update may send the mask back for a secret it does not change: the stored (encrypted)
 * value at the same path is kept. A mask with nothing stored behind it is refused rather than
 * saved as the literal string.
 */
export function restoreMaskedSecrets(incoming: Json, stored: Json): Json {
  const walk = (value: Json, path: ConfigPath): Json => {
    if (value === SECRET_MASK) {
      const previous = getAt(stored, path);
      if (previous === undefined) throw new MaskedSecretError(path);
      return previous;
    }
    if (Array.isArray(value)) return value.map((v, i) => walk(v, [...path, i]));
    if (isObject(value)) {
      const out: Record<string, Json> = {};
      for (const [k, v] of Object.entries(value)) out[k] = walk(v, [...path, k]);
      return out;
    }
    return value;
  };
  return walk(incoming, []);
}
