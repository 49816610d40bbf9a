import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsPlugin from 'ajv-formats';

// ajv-formats ships CJS whose default export is the plugin itself.
const addFormats = ((addFormatsPlugin as unknown as { default?: unknown }).default ??
  addFormatsPlugin) as unknown as (ajv: Ajv) => Ajv;

/** Paths like `credentials.password` or `streams[0].name` from a JSON pointer. */
function pointerToPath(pointer: string): string {
  if (pointer === '') return '';
  let out = '';
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(key)) out += `[${key}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(key)}]`;
  }
  return out;
}

function join(path: string, key: string): string {
  if (/^[A-Za-z_$][\w$]*$/.test(key)) return path ? `${path}.${key}` : key;
  return `${path}[${JSON.stringify(key)}]`;
}

/** One problem per line, naming the field; values are never echoed (they may be secrets). */
function describe(e: ErrorObject): string {
  const at = pointerToPath(e.instancePath);
  switch (e.keyword) {
    case 'required':
      return `${join(at, String(e.params.missingProperty))}: is required`;
    case 'additionalProperties':
      return `${join(at, String(e.params.additionalProperty))}: is not allowed`;
    case 'type':
      return `${at || '(root)'}: must be ${String(e.params.type)}`;
    default:
      return `${at || '(root)'}: ${e.message ?? e.keyword}`;
  }
}

/**
 * Validates a config (defaults from the spec are filled in on a copy).
 * Returns the completed config, or the problems found.
 */
export type ConfigValidator = (
  config: unknown,
) => { ok: true; config: Record<string, unknown> } | { ok: false; problems: string[] };

/** Compiles a connector's `connectionSpecification` (JSON Schema, draft-07) with ajv. */
export function compileConfigValidator(connectionSpecification: Record<string, unknown>): ConfigValidator {
  // Connector specs carry UI keywords (airbyte_secret, order, group, …): not strict.
  const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: true });
  addFormats(ajv);
  const { $schema: _ignored, ...schema } = connectionSpecification;
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(schema);
  } catch (err) {
    throw new Error(
      `the connector's connectionSpecification is not a valid JSON Schema: ${(err as Error).message}`,
    );
  }
  return (config) => {
    if (typeof config !== 'object' || config === null || Array.isArray(config)) {
      return { ok: false, problems: ['(root): must be a JSON object'] };
    }
    const copy = structuredClone(config) as Record<string, unknown>;
    if (validate(copy)) return { ok: true, config: copy };
    const seen = new Set<string>();
    for (const e of validate.errors ?? []) {
      // oneOf branches repeat the same complaint; the first few distinct ones are enough.
      seen.add(describe(e));
      if (seen.size >= 8) break;
    }
    return { ok: false, problems: [...seen] };
  };
}
