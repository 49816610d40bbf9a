import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsPlugin from 'ajv-formats';
import { getAt, isObject, isSecret, type JsonSchema, pointerOf, resolveSchema, SECRET_MASK } from './model';

/** Field errors by JSON pointer (`/tunnel_method/ssh_key`); `''` is the form as a whole. */
export type FieldErrors = Record<string, string>;

// ajv-formats ships CJS whose default export is the plugin itself.
const addFormats = ((addFormatsPlugin as unknown as { default?: unknown }).default ??
  addFormatsPlugin) as unknown as (ajv: Ajv) => Ajv;

let ajv: Ajv | undefined;
const compiled = new Map<string, ValidateFunction>();

function validator(schema: JsonSchema): ValidateFunction {
  const key = JSON.stringify(schema);
  let fn = compiled.get(key);
  if (!fn) {
    // Airbyte's keywords (airbyte_secret, order, group, …) are not JSON Schema: strict off.
    ajv ??= addFormats(new Ajv({ allErrors: true, strict: false, validateSchema: false }));
    const { $schema: _ignored, ...rest } = schema;
    fn = ajv.compile(rest);
    if (compiled.size > 50) compiled.clear();
    compiled.set(key, fn);
  }
  return fn;
}

function pointerOfError(e: ErrorObject): string {
  if (e.keyword === 'required' && typeof e.params.missingProperty === 'string') {
    return `${e.instancePath}/${e.params.missingProperty.replace(/~/g, '~0').replace(/\//g, '~1')}`;
  }
  return e.instancePath;
}

function messageOf(e: ErrorObject): string {
  switch (e.keyword) {
    case 'required':
      return 'Required';
    case 'type':
      return `Must be ${e.params.type === 'integer' ? 'a whole number' : `a ${e.params.type}`}`;
    case 'minimum':
      return `Must be at least ${e.params.limit}`;
    case 'maximum':
      return `Must be at most ${e.params.limit}`;
    case 'minLength':
      return e.params.limit === 1 ? 'Required' : `Must be at least ${e.params.limit} characters`;
    case 'maxLength':
      return `Must be at most ${e.params.limit} characters`;
    case 'pattern':
      return 'Does not have the expected format';
    case 'enum':
      return 'Choose one of the listed values';
    case 'format':
      return `Must be a valid ${e.params.format}`;
    default:
      return e.message ? e.message[0]!.toUpperCase() + e.message.slice(1) : 'Invalid value';
  }
}

/** A stored secret sent back as the mask: the server keeps the stored value, nothing to check. */
function isMaskedSecret(root: JsonSchema, value: unknown, pointer: string): boolean {
  const path = pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (getAt(value, path) !== SECRET_MASK) return false;
  let schema: unknown = root;
  for (const key of path) {
    if (!isObject(schema)) return false;
    schema = isObject(schema.properties)
      ? schema.properties[key]
      : isObject(schema.items)
        ? schema.items
        : undefined;
  }
  return isObject(schema) && isSecret(schema);
}

/** Validates a config against the connector's spec as the form shows it (chosen oneOf branches). */
export function validateSpecConfig(schema: JsonSchema, value: unknown): FieldErrors {
  const resolved = resolveSchema(schema, value);
  const fn = validator(resolved);
  if (fn(value)) return {};
  const errors: FieldErrors = {};
  for (const e of fn.errors ?? []) {
    if (e.keyword === 'if' || e.keyword === 'oneOf' || e.keyword === 'anyOf') continue;
    const pointer = pointerOfError(e);
    if (isMaskedSecret(resolved, value, pointer)) continue;
    errors[pointer] ??= messageOf(e);
  }
  return errors;
}

export { pointerOf };
