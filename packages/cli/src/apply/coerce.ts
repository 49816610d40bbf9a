/**
 * `${VAR}` always yields text; a connector's spec says which fields are numbers or booleans.
 * This turns "12" into 12 and "true" into true where the spec wants a number or a boolean
 * (and not also a string), walking nested objects, arrays and every `oneOf` branch.
 */
type Schema = Record<string, unknown>;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function typesOf(schema: Schema): Set<string> {
  const t = schema.type;
  return new Set(
    typeof t === 'string' ? [t] : Array.isArray(t) ? t.filter((x): x is string => typeof x === 'string') : [],
  );
}

function propertiesOf(schema: Schema): Map<string, Schema> {
  const out = new Map<string, Schema>();
  const add = (s: unknown) => {
    if (!isObject(s) || !isObject(s.properties)) return;
    for (const [k, v] of Object.entries(s.properties)) if (isObject(v) && !out.has(k)) out.set(k, v);
  };
  add(schema);
  for (const key of ['oneOf', 'anyOf', 'allOf'] as const) {
    const list = schema[key];
    if (Array.isArray(list)) list.forEach(add);
  }
  return out;
}

export function coerceToSpec(value: unknown, schema: unknown): unknown {
  if (!isObject(schema)) return value;
  if (typeof value === 'string') {
    const types = typesOf(schema);
    if (types.has('string')) return value;
    const trimmed = value.trim();
    if (
      (types.has('integer') && /^-?\d+$/.test(trimmed)) ||
      (types.has('number') && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(trimmed))
    ) {
      return Number(trimmed);
    }
    if (types.has('boolean') && (trimmed === 'true' || trimmed === 'false')) return trimmed === 'true';
    return value;
  }
  if (Array.isArray(value)) return value.map((v) => coerceToSpec(v, schema.items));
  if (isObject(value)) {
    const props = propertiesOf(schema);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, coerceToSpec(v, props.get(k))]));
  }
  return value;
}
