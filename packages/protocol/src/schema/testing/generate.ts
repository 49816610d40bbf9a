/**
 * Generates a conformance corpus from the protocol's JSON Schema itself, so the corpus grows with
 * the YAML: for each definition a full and a minimal valid instance, then one case per mutation
 * (required field dropped, optional field dropped, unknown property added, every enum value, invalid
 * enum values, every JSON type put in each field, empty arrays, hand-labelled strings for patterns
 * and formats). Each case carries the validity the generator predicts; the conformance test checks
 * that prediction against ajv (so the corpus is known to be right) and zod against ajv.
 */

export type SchemaNode = { readonly [keyword: string]: unknown };
export type Path = readonly (string | number)[];

export interface SchemaDocument {
  /** How other documents name this one in a `$ref` (file name, e.g. `well_known_types.yaml`). */
  readonly file: string;
  readonly definitions: Readonly<Record<string, SchemaNode>>;
}

export interface Case {
  /** The definition the value is validated against, `<file>#<name>`-free: just its name. */
  readonly definition: string;
  readonly description: string;
  readonly value: unknown;
  readonly valid: boolean;
  /** Set on cases that add an unknown property: where it was added. */
  readonly unknownKeyAt?: Path;
}

/** Strings for constrained string schemas (format or pattern), labelled by hand. */
export interface StringSamples {
  readonly valid: readonly string[];
  readonly invalid: readonly string[];
}

export interface GeneratorOptions {
  /** Samples for `format` values, by format name. */
  readonly formats: Readonly<Record<string, StringSamples>>;
  /** Samples for definitions whose strings carry a `pattern` (or a oneOf of patterns and enums), by definition name. */
  readonly patternedDefinitions: Readonly<Record<string, StringSamples>>;
}

export const UNKNOWN_KEY = 'x_sluice_unknown_property';
const UNKNOWN_VALUE = { kept: [1, 'two', null, { deep: true }], n: 1.5 };

const TYPE_PROBES: readonly { readonly label: string; readonly value: unknown }[] = [
  { label: 'a string', value: 'text' },
  { label: 'an empty string', value: '' },
  { label: 'an integer', value: 7 },
  { label: 'zero', value: 0 },
  { label: 'a negative integer', value: -42 },
  { label: 'an integer beyond 2^53', value: 2 ** 60 },
  { label: 'a fractional number', value: 7.5 },
  { label: 'a tiny fraction', value: 1e-7 },
  { label: 'a large fraction', value: 4503599627370495.5 },
  { label: 'true', value: true },
  { label: 'false', value: false },
  { label: 'null', value: null },
  { label: 'an empty object', value: {} },
  { label: 'an empty array', value: [] },
  { label: 'an array of strings', value: ['a'] },
];

interface Resolved {
  readonly node: SchemaNode;
  readonly doc: SchemaDocument;
  /** The definition name the node was reached through, when it was a `$ref` target. */
  readonly name?: string;
}

export class CorpusGenerator {
  private readonly docsByFile: Map<string, SchemaDocument>;

  constructor(
    documents: readonly SchemaDocument[],
    private readonly options: GeneratorOptions,
  ) {
    this.docsByFile = new Map(documents.map((doc) => [doc.file, doc]));
  }

  /** All cases for one definition of one document. */
  casesFor(doc: SchemaDocument, name: string): Case[] {
    const node = doc.definitions[name];
    if (!node) throw new Error(`no definition ${name} in ${doc.file}`);
    const root: Resolved = { node, doc, name };
    const cases: Case[] = [];
    const add = (description: string, value: unknown, valid: boolean, unknownKeyAt?: Path) => {
      cases.push({ definition: name, description, value, valid, ...(unknownKeyAt ? { unknownKeyAt } : {}) });
    };
    const full = this.sample(root, 'full', 0);
    const minimal = this.sample(root, 'minimal', 0);
    add('full instance (every property set)', full, true);
    add('minimal instance (required properties only)', minimal, true);
    this.mutate(root, full, full, [], add, 0);
    this.mutate(root, minimal, minimal, [], add, 0, { shallow: true });
    return cases;
  }

  /** Every enum (path → values) reachable in a definition without following `$ref`, for coverage checks. */
  static enumsIn(node: SchemaNode, path: Path = []): { path: Path; values: readonly unknown[] }[] {
    const found: { path: Path; values: readonly unknown[] }[] = [];
    if (Array.isArray(node.enum)) found.push({ path, values: node.enum });
    for (const [key, child] of Object.entries(asRecord(node.properties) ?? {})) {
      found.push(...CorpusGenerator.enumsIn(child as SchemaNode, [...path, key]));
    }
    if (isNode(node.items)) found.push(...CorpusGenerator.enumsIn(node.items, [...path, 0]));
    for (const branch of asArray(node.oneOf) ?? [])
      found.push(...CorpusGenerator.enumsIn(branch as SchemaNode, path));
    return found;
  }

  private resolve(resolved: Resolved): Resolved {
    let current = resolved;
    for (let hops = 0; typeof current.node.$ref === 'string'; hops++) {
      if (hops > 20) throw new Error(`$ref chain too long at ${String(current.node.$ref)}`);
      const ref = current.node.$ref as string;
      const hash = ref.indexOf('#');
      const file = hash <= 0 ? '' : ref.slice(0, hash).split('/').pop()!;
      const doc = file === '' ? current.doc : this.docsByFile.get(file);
      if (!doc) throw new Error(`$ref to unknown document ${ref}`);
      const match = /^\/definitions\/([^/]+)$/.exec(ref.slice(hash + 1));
      if (!match) throw new Error(`unsupported $ref ${ref}`);
      const name = match[1]!;
      const node = doc.definitions[name];
      if (!node) throw new Error(`$ref to missing definition ${ref}`);
      current = { node, doc, name };
    }
    return current;
  }

  private stringSamples(resolved: Resolved): StringSamples | undefined {
    const { node, name } = resolved;
    if (typeof node.format === 'string') {
      const samples = this.options.formats[node.format];
      if (!samples) throw new Error(`no samples for format ${node.format}`);
      return samples;
    }
    if (node.pattern !== undefined || (node.oneOf !== undefined && node.type === 'string')) {
      const samples = name === undefined ? undefined : this.options.patternedDefinitions[name];
      if (!samples) throw new Error(`no samples for patterned definition ${name ?? '(inline)'}`);
      return samples;
    }
    return undefined;
  }

  /** A valid instance: `full` sets every property and one item per array, `minimal` only what is required. */
  private sample(at: Resolved, mode: 'full' | 'minimal', depth: number): unknown {
    if (depth > 24) throw new Error('schema nests too deeply (cycle?)');
    const resolved = this.resolve(at);
    const { node } = resolved;
    if (Array.isArray(node.enum)) return node.enum[mode === 'full' ? node.enum.length - 1 : 0];
    const strings = this.stringSamples(resolved);
    if (strings) return strings.valid[0];
    const type = primaryType(node);
    switch (type) {
      case 'object': {
        const out: Record<string, unknown> = {};
        const required = new Set(asArray(node.required) ?? []);
        const properties = asRecord(node.properties);
        if (!properties) return mode === 'full' ? { opaque: { nested: [1, 'a', null] }, flag: true } : {};
        for (const [key, child] of Object.entries(properties)) {
          if (mode === 'full' || required.has(key)) {
            out[key] = this.sample({ node: child as SchemaNode, doc: resolved.doc }, mode, depth + 1);
          }
        }
        return out;
      }
      case 'array': {
        const minItems = typeof node.minItems === 'number' ? node.minItems : 0;
        const count = mode === 'full' ? Math.max(1, minItems) : minItems;
        if (!isNode(node.items)) return [];
        const items = node.items;
        return Array.from({ length: count }, () =>
          this.sample({ node: items, doc: resolved.doc }, mode, depth + 1),
        );
      }
      case 'string':
        return mode === 'full' ? 'sample text' : 's';
      case 'integer':
        return mode === 'full' ? 1700000000000 : 0;
      case 'number':
        return mode === 'full' ? 12.5 : 0;
      case 'boolean':
        return mode === 'full';
      case 'null':
        return null;
      default: {
        const branches = asArray(node.oneOf);
        if (branches?.[0])
          return this.sample({ node: branches[0] as SchemaNode, doc: resolved.doc }, mode, depth + 1);
        throw new Error(`cannot sample schema ${JSON.stringify(node).slice(0, 120)}`);
      }
    }
  }

  private mutate(
    at: Resolved,
    root: unknown,
    value: unknown,
    path: Path,
    add: (description: string, value: unknown, valid: boolean, unknownKeyAt?: Path) => void,
    depth: number,
    options: { shallow?: boolean } = {},
  ): void {
    const resolved = this.resolve(at);
    const { node } = resolved;
    const where = path.length === 0 ? '(root)' : path.join('.');
    const put = (replacement: unknown) => setAt(root, path, replacement);

    if (!options.shallow) {
      if (Array.isArray(node.enum)) {
        for (const allowed of node.enum)
          add(`${where} = enum value ${JSON.stringify(allowed)}`, put(allowed), true);
        for (const wrong of invalidEnumValues(node.enum)) {
          add(`${where} = value outside the enum ${JSON.stringify(wrong)}`, put(wrong), false);
        }
      }
      const strings = Array.isArray(node.enum) ? undefined : this.stringSamples(resolved);
      if (strings) {
        for (const ok of strings.valid) add(`${where} = ${JSON.stringify(ok)}`, put(ok), true);
        for (const bad of strings.invalid) add(`${where} = ${JSON.stringify(bad)}`, put(bad), false);
      }
      for (const probe of TYPE_PROBES) {
        const verdict = this.probeVerdict(resolved, probe.value, strings !== undefined);
        if (verdict !== undefined) add(`${where} = ${probe.label}`, put(probe.value), verdict);
      }
    }

    const type = primaryType(node);
    if (type === 'object' && isPlainObject(value)) {
      const required = new Set(asArray(node.required) ?? []);
      const properties = asRecord(node.properties) ?? {};
      for (const key of Object.keys(properties)) {
        if (!(key in value)) continue;
        const isRequired = required.has(key);
        add(
          `${where}: ${isRequired ? 'required' : 'optional'} property ${key} dropped`,
          setAt(root, [...path, key], DROP),
          !isRequired,
        );
      }
      const open = node.additionalProperties !== false;
      add(
        `${where}: unknown property added`,
        setAt(root, [...path, UNKNOWN_KEY], UNKNOWN_VALUE),
        open,
        open ? [...path, UNKNOWN_KEY] : undefined,
      );
      if (!options.shallow && depth < 16) {
        for (const [key, child] of Object.entries(properties)) {
          if (key in value) {
            this.mutate(
              { node: child as SchemaNode, doc: resolved.doc },
              root,
              value[key],
              [...path, key],
              add,
              depth + 1,
            );
          }
        }
      }
    }
    if (type === 'array' && Array.isArray(value) && value.length > 0 && !options.shallow) {
      add(`${where}: first item repeated`, put([...value, value[0]]), node.uniqueItems !== true);
      if (isNode(node.items) && depth < 16) {
        this.mutate({ node: node.items, doc: resolved.doc }, root, value[0], [...path, 0], add, depth + 1);
      }
    }
  }

  /**
   * The validity of putting `probe` where `node` is expected, or undefined when the probe says
   * nothing new (a string where constrained strings have their own samples, a non-empty object
   * standing in for an object schema).
   */
  private probeVerdict(resolved: Resolved, probe: unknown, constrainedString: boolean): boolean | undefined {
    const { node } = resolved;
    if (Array.isArray(node.enum)) {
      return typeof probe === 'string' ? undefined : node.enum.some((allowed) => allowed === probe);
    }
    if (typeof probe === 'string' && constrainedString) return undefined;
    const branches = asArray(node.oneOf);
    if (branches && node.type === undefined) {
      // oneOf of plain types: valid when exactly one branch's type accepts the probe.
      const accepting = branches.filter((branch) => {
        const b = branch as SchemaNode;
        if (Object.keys(b).some((k) => k !== 'type' && k !== 'description')) {
          throw new Error(`oneOf branch with constraints needs samples: ${JSON.stringify(b)}`);
        }
        return typeAccepts(b.type, probe);
      });
      return accepting.length === 1;
    }
    if (!typeAccepts(node.type, probe)) return false;
    if (isPlainObject(probe)) {
      // The probe object is empty: valid unless the schema requires something.
      return (
        (asArray(node.required) ?? []).length === 0 &&
        !(typeof node.minProperties === 'number' && node.minProperties > 0)
      );
    }
    if (Array.isArray(probe)) {
      if (typeof node.minItems === 'number' && probe.length < node.minItems) return false;
      if (probe.length === 0) return true;
      // A one-string array is valid only if the items accept a plain string.
      const items = isNode(node.items) ? this.resolve({ node: node.items, doc: resolved.doc }) : undefined;
      if (!items) return true;
      if (Array.isArray(items.node.enum)) return items.node.enum.includes(probe[0]);
      if (items.node.pattern !== undefined || items.node.format !== undefined) return undefined;
      const itemBranches = asArray(items.node.oneOf);
      if (itemBranches && items.node.type === undefined) {
        return itemBranches.filter((b) => typeAccepts((b as SchemaNode).type, probe[0])).length === 1;
      }
      return typeAccepts(items.node.type, probe[0]);
    }
    return true;
  }
}

const DROP = Symbol('drop');

/** A deep copy of `root` with the value at `path` replaced (or removed, for DROP). */
export function setAt(root: unknown, path: Path, replacement: unknown): unknown {
  if (path.length === 0) return replacement === DROP ? undefined : structuredClone(replacement);
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let parent: Record<string | number, unknown> = copy;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (replacement === DROP) delete parent[last];
  else parent[last] = structuredClone(replacement);
  return copy;
}

/** The value at `path`, or undefined. */
export function getAt(root: unknown, path: Path): unknown {
  let current: unknown = root;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}

function invalidEnumValues(values: readonly unknown[]): unknown[] {
  const strings = values.filter((v): v is string => typeof v === 'string');
  const first = strings[0] ?? '';
  const candidates = [
    `NOT_${first}`,
    first.toLowerCase() === first ? first.toUpperCase() : first.toLowerCase(),
    `${first} `,
    '',
  ];
  return [...new Set(candidates)].filter((candidate) => !values.includes(candidate));
}

function primaryType(node: SchemaNode): string | undefined {
  if (typeof node.type === 'string') return node.type;
  if (node.type === undefined && (node.properties !== undefined || node.required !== undefined))
    return 'object';
  return undefined;
}

function typeAccepts(type: unknown, value: unknown): boolean {
  if (type === undefined) return true;
  if (Array.isArray(type)) return type.some((t) => typeAccepts(t, value));
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
    case 'null':
      return value === null;
    case 'object':
      return isPlainObject(value);
    case 'array':
      return Array.isArray(value);
    default:
      throw new Error(`unknown JSON Schema type ${String(type)}`);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isNode(value: unknown): value is SchemaNode {
  return isPlainObject(value);
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return isPlainObject(value) ? value : undefined;
}

function asArray(value: unknown): readonly unknown[] | undefined {
  return Array.isArray(value) ? value : undefined;
}
