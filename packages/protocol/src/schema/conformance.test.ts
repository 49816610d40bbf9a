import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import * as protocol from './index';
import { HAND_WRITTEN_CASES, URI_SAMPLES, WELL_KNOWN_SAMPLES } from './testing/corpus';
import { type Case, CorpusGenerator, getAt, type SchemaDocument, type SchemaNode } from './testing/generate';

// The official schema is read from ../shared at test time (never a copy): repo root is three
// levels above src/schema, and shared sits beside the repo.
const SHARED = new URL('../../../../../shared/airbyte-protocol/', import.meta.url);
const PROTOCOL_FILE = 'airbyte_protocol.yaml';
const WELL_KNOWN_FILE = 'well_known_types.yaml';

function loadYaml(file: string): Record<string, unknown> {
  return parseYaml(readFileSync(fileURLToPath(new URL(file, SHARED)), 'utf8')) as Record<string, unknown>;
}

const protocolYaml = loadYaml(PROTOCOL_FILE);
const wellKnownYaml = loadYaml(WELL_KNOWN_FILE);
const protocolId = String(protocolYaml.$id);
// well_known_types.yaml has no $id: give it one beside the protocol's, so a relative
// `$ref: well_known_types.yaml#/...` from the protocol resolves to it.
const wellKnownId = new URL(WELL_KNOWN_FILE, protocolId).href;

const protocolDoc: SchemaDocument = {
  file: PROTOCOL_FILE,
  definitions: protocolYaml.definitions as Record<string, SchemaNode>,
};
const wellKnownDoc: SchemaDocument = {
  file: WELL_KNOWN_FILE,
  definitions: wellKnownYaml.definitions as Record<string, SchemaNode>,
};

// strict mode, so a keyword ajv does not know fails loudly instead of being ignored; the YAML's
// two non-standard keywords are annotations for Airbyte's code generator.
const ajv = new Ajv({ strict: true, strictTypes: false, allErrors: false });
addFormats(ajv);
ajv.addVocabulary(['existingJavaType', 'version']);
ajv.addSchema({ ...wellKnownYaml, $id: wellKnownId });
ajv.addSchema(protocolYaml);

function officialValidator(doc: SchemaDocument, name: string): ValidateFunction {
  const id = doc === protocolDoc ? protocolId : wellKnownId;
  const validate = ajv.getSchema(`${id}#/definitions/${name}`);
  if (!validate) throw new Error(`ajv has no definition ${name}`);
  return validate;
}

const exported = protocol as unknown as Record<string, unknown>;
const wellKnown = protocol.WellKnownTypes as Record<string, z.ZodType>;

function zodSchemaFor(doc: SchemaDocument, name: string): z.ZodType | undefined {
  const candidate = doc === protocolDoc ? exported[name] : wellKnown[name];
  return candidate instanceof z.ZodType ? candidate : undefined;
}

const generator = new CorpusGenerator([protocolDoc, wellKnownDoc], {
  formats: { uri: URI_SAMPLES },
  patternedDefinitions: WELL_KNOWN_SAMPLES,
});

const allDefinitions = [protocolDoc, wellKnownDoc].flatMap((doc) =>
  Object.keys(doc.definitions).map((name) => ({ doc, name })),
);

/** Runs each case through ajv and zod; returns a line per disagreement. */
function disagreements(
  cases: readonly Case[],
  lookup: (name: string) => { ajv: ValidateFunction; zod: z.ZodType },
) {
  const problems: string[] = [];
  for (const c of cases) {
    const { ajv: validate, zod } = lookup(c.definition);
    const official = validate(c.value) === true;
    const parsed = zod.safeParse(c.value);
    const label = `${c.definition} — ${c.description}`;
    if (official !== c.valid) {
      problems.push(`${label}: corpus says ${c.valid ? 'valid' : 'invalid'}, the official schema disagrees`);
    }
    if (parsed.success !== official) {
      problems.push(
        `${label}: official schema ${official ? 'accepts' : 'rejects'}, zod ${parsed.success ? 'accepts' : `rejects (${protocol.formatZodError(parsed.error, c.value)})`}`,
      );
      continue;
    }
    if (parsed.success) {
      // Unknown properties survive, and nothing is added (no defaults, no undefined keys).
      if (!isDeepStrictEqual(parsed.data, c.value)) problems.push(`${label}: parse changed the value`);
      if (JSON.stringify(sortKeys(parsed.data)) !== JSON.stringify(sortKeys(c.value))) {
        problems.push(`${label}: parse + serialize does not reproduce the input`);
      }
      if (c.unknownKeyAt && getAt(parsed.data, c.unknownKeyAt) === undefined) {
        problems.push(`${label}: unknown property ${c.unknownKeyAt.join('.')} dropped`);
      }
    }
  }
  return problems;
}

function lookupByName(name: string) {
  const doc = name in protocolDoc.definitions ? protocolDoc : wellKnownDoc;
  const zod = zodSchemaFor(doc, name);
  if (!zod) throw new Error(`no zod schema for ${name}`);
  return { ajv: officialValidator(doc, name), zod };
}

// zod's ahead-of-time compiler generates a faster parser for a schema (parseAirbyteMessage uses
// it). strict: true throws if a schema uses anything the compiler cannot model, so no schema
// silently loses its fast path; the compiled parsers must agree with the official schema too.
const compiled = new Map<string, z.ZodType>();
function lookupCompiled(name: string) {
  const { ajv: validate, zod } = lookupByName(name);
  let fast = compiled.get(name);
  if (!fast) {
    fast = z.compile(zod, { strict: true });
    compiled.set(name, fast);
  }
  return { ajv: validate, zod: fast };
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
  );
}

describe('the official schema', () => {
  it('is read from ../shared and compiles under ajv strict mode', () => {
    expect(protocolYaml.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(allDefinitions.length).toBeGreaterThan(40);
    for (const { doc, name } of allDefinitions) expect(officialValidator(doc, name)).toBeTypeOf('function');
  });
});

describe('zod counterparts', () => {
  it('exist, with the same name, for every definition of both YAML files', () => {
    const missing = allDefinitions
      .filter(({ doc, name }) => !zodSchemaFor(doc, name))
      .map(({ name }) => name);
    expect(missing).toEqual([]);
  });

  it('have exactly the properties, required fields, enums and array bounds of the YAML', () => {
    const problems: string[] = [];
    for (const { doc, name } of allDefinitions) {
      compareStructure(doc, doc.definitions[name]!, zodSchemaFor(doc, name)!, name, problems);
    }
    expect(problems).toEqual([]);
  });
});

/** Walks a YAML node and its zod counterpart together. */
function compareStructure(
  doc: SchemaDocument,
  node: SchemaNode,
  schema: z.ZodType,
  at: string,
  problems: string[],
) {
  let yamlNode = node;
  while (typeof yamlNode.$ref === 'string') {
    const name = yamlNode.$ref.replace(/^.*#\/definitions\//, '');
    yamlNode = doc.definitions[name]!;
  }
  let zod: z.ZodType = schema;
  while (zod instanceof z.ZodOptional) zod = zod.unwrap() as z.ZodType;
  const fail = (what: string) => problems.push(`${at}: ${what}`);

  if (Array.isArray(yamlNode.enum)) {
    if (!(zod instanceof z.ZodEnum)) return fail('YAML enum, zod is not a z.enum');
    if (JSON.stringify(zod.options) !== JSON.stringify(yamlNode.enum)) {
      fail(`enum ${JSON.stringify(zod.options)} differs from YAML ${JSON.stringify(yamlNode.enum)}`);
    }
    return;
  }
  switch (yamlNode.type) {
    case 'object': {
      if (!(zod instanceof z.ZodObject)) return fail('YAML object, zod is not a z.object');
      if (!(zod.def.catchall instanceof z.ZodUnknown) && yamlNode.additionalProperties !== false) {
        fail('unknown properties would not be kept (use z.looseObject)');
      }
      const properties = (yamlNode.properties ?? {}) as Record<string, SchemaNode>;
      const required = new Set((yamlNode.required ?? []) as string[]);
      const shape = zod.shape as Record<string, z.ZodType>;
      const yamlKeys = Object.keys(properties).sort();
      const zodKeys = Object.keys(shape).sort();
      if (JSON.stringify(yamlKeys) !== JSON.stringify(zodKeys)) {
        fail(`properties ${JSON.stringify(zodKeys)} differ from YAML ${JSON.stringify(yamlKeys)}`);
      }
      for (const key of yamlKeys) {
        const child = shape[key];
        if (!child) continue;
        const optional = child.safeParse(undefined).success;
        if (optional === required.has(key)) fail(`${key} is ${optional ? 'optional' : 'required'} in zod`);
        compareStructure(doc, properties[key]!, child, `${at}.${key}`, problems);
      }
      return;
    }
    case 'array': {
      if (!(zod instanceof z.ZodArray)) return fail('YAML array, zod is not a z.array');
      const minItems = typeof yamlNode.minItems === 'number' ? yamlNode.minItems : 0;
      const zodMin = (zod.def.checks ?? []).reduce((min, check) => {
        const def = check._zod.def as { check: string; minimum?: number };
        return def.check === 'min_length' ? Math.max(min, def.minimum ?? 0) : min;
      }, 0);
      if (zodMin !== minItems) fail(`minItems ${String(zodMin)} differs from YAML ${minItems}`);
      compareStructure(doc, yamlNode.items as SchemaNode, zod.element as z.ZodType, `${at}[]`, problems);
      return;
    }
    case 'integer':
    case 'number': {
      if (!(zod instanceof z.ZodNumber)) return fail(`YAML ${yamlNode.type}, zod is not a z.number`);
      const acceptsFraction = zod.safeParse(0.5).success;
      if (acceptsFraction !== (yamlNode.type === 'number'))
        fail(`zod ${acceptsFraction ? 'accepts' : 'rejects'} 0.5`);
      if (!zod.safeParse(2 ** 60).success) fail('zod rejects integers beyond 2^53');
      return;
    }
    case 'string':
      if (!(zod instanceof z.ZodString) && !(zod instanceof z.ZodUnion))
        fail('YAML string, zod is not a z.string');
      return;
    case 'boolean':
      if (!(zod instanceof z.ZodBoolean)) fail('YAML boolean, zod is not a z.boolean');
      return;
    default:
      if (Array.isArray(yamlNode.oneOf)) {
        if (!(zod instanceof z.ZodUnion)) return fail('YAML oneOf, zod is not a z.union');
        if (zod.options.length !== yamlNode.oneOf.length) fail('union and oneOf differ in branch count');
        return;
      }
      fail(`unhandled YAML node ${JSON.stringify(yamlNode).slice(0, 80)}`);
  }
}

describe('generated corpus: zod agrees with the official schema', () => {
  it.each(allDefinitions.map(({ doc, name }) => ({ doc, name, label: `${doc.file}#${name}` })))(
    '$label',
    ({ doc, name }) => {
      const cases = generator.casesFor(doc, name);
      expect(cases.some((c) => c.valid)).toBe(true);
      expect(cases.some((c) => !c.valid)).toBe(true);
      expect(disagreements(cases, lookupByName)).toEqual([]);
      expect(disagreements(cases, lookupCompiled)).toEqual([]);

      // Every enum value the definition declares appears in a valid case.
      for (const { path, values } of CorpusGenerator.enumsIn(doc.definitions[name]!)) {
        for (const value of values) {
          const covered = cases.some((c) => c.valid && getAt(c.value, path) === value);
          expect(covered, `${name} ${path.join('.')} = ${String(value)}`).toBe(true);
        }
      }
    },
  );
});

describe('hand-written corpus: zod agrees with the official schema', () => {
  it('realistic messages and known corner cases', () => {
    expect(HAND_WRITTEN_CASES.length).toBeGreaterThan(100);
    expect(disagreements(HAND_WRITTEN_CASES, lookupByName)).toEqual([]);
    expect(disagreements(HAND_WRITTEN_CASES, lookupCompiled)).toEqual([]);
  });

  it('holds a valid, payload-carrying message of every type', () => {
    const typed = new Set(
      HAND_WRITTEN_CASES.filter((c) => c.valid && c.definition === 'AirbyteMessage')
        .map((c) => protocol.AirbyteMessage.parse(c.value))
        .filter(protocol.isTypedMessage)
        .map((m) => m.type),
    );
    expect([...typed].sort()).toEqual([...protocol.AirbyteMessageType.options].sort());
  });
});

/** Deterministic PRNG (mulberry32), so a failure reproduces. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomStrings(tokens: readonly string[], count: number, seed: number, maxTokens = 12): string[] {
  const random = prng(seed);
  return Array.from({ length: count }, () => {
    const length = Math.floor(random() * maxTokens);
    let out = '';
    for (let i = 0; i < length; i++) out += tokens[Math.floor(random() * tokens.length)];
    return out;
  });
}

/** Valid seeds with 0–3 random edits (insert a token, delete or replace a character). */
function editedStrings(
  seeds: readonly string[],
  tokens: readonly string[],
  count: number,
  seed: number,
): string[] {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
  return Array.from({ length: count }, () => {
    let out = pick(seeds);
    const edits = Math.floor(random() * 4);
    for (let i = 0; i < edits; i++) {
      const at = Math.floor(random() * (out.length + 1));
      const edit = random();
      if (edit < 0.4) out = out.slice(0, at) + pick(tokens) + out.slice(at);
      else if (edit < 0.7) out = out.slice(0, at) + out.slice(at + 1);
      else out = out.slice(0, at) + pick(tokens) + out.slice(at + 1);
    }
    return out;
  });
}

describe('differential fuzzing against the official schema', () => {
  function fuzz(definition: string, values: readonly unknown[], wrap: (value: unknown) => unknown) {
    const { ajv: validate, zod } = lookupByName(definition);
    const outcomes = { accepted: 0, rejected: 0 };
    const problems: string[] = [];
    for (const value of values) {
      const instance = wrap(value);
      const official = validate(instance) === true;
      if (zod.safeParse(instance).success !== official) {
        problems.push(`${JSON.stringify(value)}: official ${official ? 'accepts' : 'rejects'}`);
      }
      outcomes[official ? 'accepted' : 'rejected']++;
    }
    expect(problems.slice(0, 20)).toEqual([]);
    // The generated inputs must exercise both outcomes to mean anything.
    expect(outcomes.accepted).toBeGreaterThan(values.length / 50);
    expect(outcomes.rejected).toBeGreaterThan(values.length / 50);
  }

  it('format uri (ConnectorSpecification.documentationUrl)', () => {
    const tokens = [
      'http',
      's',
      'x',
      'A',
      'v1',
      ':',
      '//',
      '/',
      '@',
      '[',
      ']',
      '::',
      'ffff',
      '1',
      '0',
      '255',
      '256',
      '01',
      '.',
      '1.2.3.4',
      '%',
      '4',
      'z',
      '?',
      '#',
      ' ',
      '-',
      '+',
      '~',
      '!',
      "'",
      '"',
      '{',
      '}',
      '|',
      '\\',
      '^',
      '`',
      '<',
      'é',
      'ſ',
      '\n',
      '=',
      '&',
      ';',
      ',',
      '*',
      '(',
      ')',
      '$',
    ];
    const strings = [
      ...randomStrings(tokens, 15_000, 1).map((s, i) => (i % 3 === 0 ? s : `http${i % 2 ? 's' : ''}:${s}`)),
      ...editedStrings([...URI_SAMPLES.valid, ...URI_SAMPLES.invalid], tokens, 15_000, 2),
    ];
    fuzz('ConnectorSpecification', strings, (url) => ({
      connectionSpecification: {},
      documentationUrl: url,
    }));
  });

  it.each(Object.keys(WELL_KNOWN_SAMPLES))('well-known %s', (name) => {
    const tokens = [
      '0',
      '1',
      '9',
      '12',
      '2022',
      '-',
      ':',
      'T',
      'Z',
      'z',
      '.',
      '+',
      ' BC',
      ' ',
      'a',
      'Y',
      '=',
      '/',
      'Infinity',
      'NaN',
      '\n',
    ];
    const samples = WELL_KNOWN_SAMPLES[name]!;
    const strings = [
      ...randomStrings(tokens, 2_000, name.length),
      ...editedStrings([...samples.valid, ...samples.invalid], tokens, 8_000, name.length + 1),
    ];
    fuzz(name, strings, (value) => value);
  });

  it('integer and number fields (AirbyteRecordMessage.emitted_at, AirbyteTraceMessage.emitted_at)', () => {
    const random = prng(7);
    const numbers = Array.from({ length: 20_000 }, (_, i) => {
      const magnitude = 10 ** Math.floor(random() * 40 - 10);
      const raw = (random() - 0.5) * magnitude;
      return i % 2 === 0 ? Math.round(raw) : JSON.parse(JSON.stringify(raw));
    });
    fuzz('AirbyteRecordMessage', numbers, (n) => ({ stream: 's', data: {}, emitted_at: n }));
    const traces = numbers.map((n) => ({ type: 'ERROR', emitted_at: n }));
    const { ajv: validate, zod } = lookupByName('AirbyteTraceMessage');
    for (const trace of traces) expect(zod.safeParse(trace).success).toBe(validate(trace));
  });
});
