/**
 * Turns an Airbyte connector spec (`connectionSpecification`, JSON Schema draft-07 plus
 * Airbyte's keywords) into what the form renders, the way Airbyte's UI does:
 * - `order` sorts fields (then required before optional, then by name);
 * - `group` + the spec's `groups` list puts fields into titled sections;
 * - `oneOf` of objects is a choice (dropdown, or radios with `display_type: radio`) whose
 *   discriminator (a `const` present in every branch) is set by the choice and never shown;
 * - `airbyte_secret` is a password input, `multiline` a text area, `airbyte_hidden` not shown;
 * - optional fields sit behind an "Optional fields" disclosure unless `always_show`.
 * Pure functions only: the component and the unit tests share them.
 */

export type JsonSchema = { [key: string]: unknown };
export type FormValue = unknown;

export const SECRET_MASK = '**********';

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function properties(schema: JsonSchema): Record<string, JsonSchema> {
  const p = schema.properties;
  if (!isObject(p)) return {};
  return Object.fromEntries(Object.entries(p).filter(([, v]) => isObject(v))) as Record<string, JsonSchema>;
}

export function requiredOf(schema: JsonSchema): string[] {
  return Array.isArray(schema.required)
    ? schema.required.filter((r): r is string => typeof r === 'string')
    : [];
}

/** The non-null type of a schema: `["null", "string"]` is a string field. */
export function typeOf(schema: JsonSchema): string | undefined {
  const t = schema.type;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) return t.find((x): x is string => typeof x === 'string' && x !== 'null');
  if (Array.isArray(schema.oneOf) || isObject(schema.properties)) return 'object';
  if (Array.isArray(schema.enum)) {
    const first = schema.enum.find((e) => e !== null);
    return typeof first === 'number' ? 'number' : typeof first === 'boolean' ? 'boolean' : 'string';
  }
  return undefined;
}

export const isSecret = (schema: JsonSchema) => schema.airbyte_secret === true;
export const isHidden = (schema: JsonSchema) => schema.airbyte_hidden === true;

export function humanize(key: string): string {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .trim();
  return words ? words[0]!.toUpperCase() + words.slice(1) : key;
}

export function labelOf(key: string, schema: JsonSchema): string {
  return typeof schema.title === 'string' && schema.title.trim() ? schema.title : humanize(key);
}

/** Airbyte descriptions carry HTML links and markdown: shown as plain text. */
export function plainDescription(schema: JsonSchema): string | undefined {
  if (typeof schema.description !== 'string') return undefined;
  const text = schema.description
    .replace(/<a\s[^>]*>(.*?)<\/a>/gi, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/\[([^\]]+)\]\([^)]+\)/g, '$1')
    .replace(/\s+/g, ' ')
    .trim();
  return text || undefined;
}

export interface FieldEntry {
  key: string;
  schema: JsonSchema;
  required: boolean;
}

/** Visible fields of an object schema in Airbyte's order. */
export function orderedFields(schema: JsonSchema, exclude: ReadonlySet<string> = new Set()): FieldEntry[] {
  const required = new Set(requiredOf(schema));
  const entries = Object.entries(properties(schema))
    .filter(([key, s]) => !isHidden(s) && !exclude.has(key))
    .map(([key, s]) => ({ key, schema: s, required: required.has(key) }));
  const orderOf = (e: FieldEntry) =>
    typeof e.schema.order === 'number' ? e.schema.order : Number.POSITIVE_INFINITY;
  return entries.sort((a, b) => {
    const oa = orderOf(a);
    const ob = orderOf(b);
    if (oa !== ob) return oa < ob ? -1 : 1;
    if (a.required !== b.required) return a.required ? -1 : 1;
    return a.key.localeCompare(b.key);
  });
}

export interface FieldGroup {
  id: string;
  title: string | null;
  fields: FieldEntry[];
}

/**
 * Sections of the form: the spec's `groups` in their order, fields without a group first
 * (untitled). A field naming an unknown group gets a section of its own, titled by its id.
 */
export function groupFields(schema: JsonSchema): FieldGroup[] {
  const declared = Array.isArray(schema.groups) ? schema.groups.filter(isObject) : [];
  const groups: FieldGroup[] = [{ id: '', title: null, fields: [] }];
  for (const g of declared) {
    if (typeof g.id !== 'string') continue;
    groups.push({ id: g.id, title: typeof g.title === 'string' ? g.title : null, fields: [] });
  }
  for (const field of orderedFields(schema)) {
    const id = typeof field.schema.group === 'string' ? field.schema.group : '';
    let group = groups.find((g) => g.id === id);
    if (!group) {
      group = { id, title: humanize(id), fields: [] };
      groups.push(group);
    }
    group.fields.push(field);
  }
  return groups.filter((g) => g.fields.length > 0);
}

function constOf(schema: JsonSchema): { has: boolean; value: unknown } {
  if ('const' in schema) return { has: true, value: schema.const };
  if (Array.isArray(schema.enum) && schema.enum.length === 1) return { has: true, value: schema.enum[0] };
  return { has: false, value: undefined };
}

export function branchesOf(schema: JsonSchema): JsonSchema[] {
  return Array.isArray(schema.oneOf) ? schema.oneOf.filter(isObject) : [];
}

/** Properties holding a constant in every branch: they tell the branches apart. */
export function discriminators(branches: JsonSchema[]): string[] {
  if (branches.length === 0) return [];
  const first = properties(branches[0]!);
  return Object.keys(first).filter((key) =>
    branches.every((b) => {
      const p = properties(b)[key];
      return p !== undefined && constOf(p).has;
    }),
  );
}

export function branchTitle(branch: JsonSchema, index: number): string {
  if (typeof branch.title === 'string' && branch.title.trim()) return branch.title;
  const [key] = discriminators([branch]);
  if (key) {
    const c = constOf(properties(branch)[key]!);
    if (c.has) return String(c.value);
  }
  return `Option ${index + 1}`;
}

/** The branch the value is in: the one whose constants it carries (else the first). */
export function selectedBranch(schema: JsonSchema, value: unknown): number {
  const branches = branchesOf(schema);
  if (!isObject(value)) return 0;
  const keys = discriminators(branches);
  if (keys.length > 0) {
    const i = branches.findIndex((b) =>
      keys.every((k) => {
        const c = constOf(properties(b)[k]!);
        return value[k] === c.value;
      }),
    );
    if (i >= 0) return i;
  }
  // No discriminator: the branch whose required fields are all present.
  const byRequired = branches.findIndex(
    (b) => requiredOf(b).length > 0 && requiredOf(b).every((k) => value[k] !== undefined),
  );
  return Math.max(byRequired, 0);
}

/** An object schema's own properties merged with the chosen branch's (the shape the form shows). */
export function mergedBranch(schema: JsonSchema, branchIndex: number): JsonSchema {
  const branch = branchesOf(schema)[branchIndex] ?? {};
  return {
    ...schema,
    oneOf: undefined,
    type: 'object',
    properties: { ...properties(schema), ...properties(branch) },
    required: [...new Set([...requiredOf(schema), ...requiredOf(branch)])],
  };
}

/** The initial value of a field: its default, a branch's constants, nested defaults. */
export function defaultsFor(schema: JsonSchema): unknown {
  if ('default' in schema) return structuredClone(schema.default);
  const c = constOf(schema);
  if (c.has) return c.value;
  const type = typeOf(schema);
  if (type === 'object') {
    const shape = branchesOf(schema).length > 0 ? mergedBranch(schema, 0) : schema;
    const out: Record<string, unknown> = {};
    const required = new Set(requiredOf(shape));
    for (const [key, prop] of Object.entries(properties(shape))) {
      const v = defaultsFor(prop);
      const nestedObject = typeOf(prop) === 'object' && (required.has(key) || branchesOf(prop).length > 0);
      if (v !== undefined && (!isObject(v) || Object.keys(v).length > 0 || nestedObject)) out[key] = v;
    }
    return out;
  }
  return undefined;
}

/** Switches a oneOf value to another branch: constants and defaults of the new branch, shared fields kept. */
export function switchBranch(
  schema: JsonSchema,
  current: unknown,
  branchIndex: number,
): Record<string, unknown> {
  const merged = mergedBranch(schema, branchIndex);
  const fresh = (defaultsFor(merged) as Record<string, unknown>) ?? {};
  const keys = new Set(discriminators(branchesOf(schema)));
  const kept: Record<string, unknown> = {};
  if (isObject(current)) {
    const allowed = properties(merged);
    for (const [k, v] of Object.entries(current)) if (k in allowed && !keys.has(k)) kept[k] = v;
  }
  return { ...fresh, ...kept, ...Object.fromEntries([...keys].map((k) => [k, fresh[k]])) };
}

/**
 * The schema as the value currently chooses it: every `oneOf` replaced by its selected
 * branch. Validating against this gives errors about the fields on screen only, instead of
 * one error per branch not taken.
 */
export function resolveSchema(schema: JsonSchema, value: unknown): JsonSchema {
  let shape = schema;
  if (branchesOf(schema).length > 0 && typeOf(schema) === 'object') {
    shape = mergedBranch(schema, selectedBranch(schema, value));
    delete shape.oneOf;
  }
  const props = properties(shape);
  if (Object.keys(props).length > 0) {
    const obj = isObject(value) ? value : {};
    shape = {
      ...shape,
      properties: Object.fromEntries(Object.entries(props).map(([k, s]) => [k, resolveSchema(s, obj[k])])),
    };
  }
  if (isObject(shape.items) && Array.isArray(value) && value.length > 0) {
    shape = { ...shape, items: resolveSchema(shape.items, value[0]) };
  }
  return shape;
}

/** `config.tunnel_method.ssh_key` or `tunnel[0].x` (API field paths) → JSON pointer `/tunnel_method/ssh_key`. */
export function fieldPathToPointer(path: string, root = 'config'): string {
  let p = path.startsWith(`${root}.`) ? path.slice(root.length + 1) : path === root ? '' : path;
  p = p.replace(/\[(\d+)\]/g, '.$1');
  return p
    .split('.')
    .filter(Boolean)
    .map((s) => `/${s.replace(/~/g, '~0').replace(/\//g, '~1')}`)
    .join('');
}

export function pointerOf(path: readonly (string | number)[]): string {
  return path.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

export function getAt(value: unknown, path: readonly (string | number)[]): unknown {
  let cur: unknown = value;
  for (const key of path) {
    if (Array.isArray(cur) && typeof key === 'number') cur = cur[key];
    else if (isObject(cur)) cur = cur[String(key)];
    else return undefined;
  }
  return cur;
}

/** Immutable set; `undefined` removes the key (an empty optional field is left out of the config). */
export function setAt(value: unknown, path: readonly (string | number)[], next: unknown): unknown {
  if (path.length === 0) return next;
  const [head, ...rest] = path;
  if (typeof head === 'number') {
    const arr = Array.isArray(value) ? [...value] : [];
    arr[head] = setAt(arr[head], rest, next);
    return arr;
  }
  const obj = isObject(value) ? { ...value } : {};
  const child = setAt(obj[head!], rest, next);
  if (child === undefined) delete obj[head!];
  else obj[head!] = child;
  return obj;
}
