import { createHash } from 'node:crypto';
import { canonicalJson } from '@sluice/db';
import { type ConfigValidator, compileConfigValidator } from '@sluice/protocol';
import { ApiError } from '../errors';

/** Compiled validators by spec content: compiling a spec takes milliseconds, validating microseconds. */
const cache = new Map<string, ConfigValidator>();
const CACHE_LIMIT = 200;

function validatorFor(connectionSpecification: Record<string, unknown>): ConfigValidator {
  const key = createHash('sha256').update(canonicalJson(connectionSpecification)).digest('hex');
  let validator = cache.get(key);
  if (!validator) {
    try {
      validator = compileConfigValidator(connectionSpecification);
    } catch (err) {
      throw new ApiError('PRECONDITION_FAILED', (err as Error).message);
    }
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
    cache.set(key, validator);
  }
  return validator;
}

/** `password: is required` → `password`; `(root): …` → ``. */
function problemPath(problem: string): string {
  const at = problem.indexOf(': ');
  const path = at === -1 ? '' : problem.slice(0, at);
  return path === '(root)' ? '' : path;
}

function prefixed(prefix: string, path: string): string {
  if (!path) return prefix;
  return path.startsWith('[') ? `${prefix}${path}` : `${prefix}.${path}`;
}

/**
 * Validates a connector config against its spec's `connectionSpecification` (JSON Schema
 * draft-07, ajv, Airbyte's UI keywords tolerated). A failure is a BAD_REQUEST whose message
 * lists the problems and whose `fieldPath` names the first one, e.g. `config.password`.
 * Values are never echoed: they may be secrets. The config is stored as given; defaults are
 * the connector's to apply.
 */
export function validateConfig(
  connectionSpecification: Record<string, unknown>,
  config: unknown,
  inputField = 'config',
): void {
  const result = validatorFor(connectionSpecification)(config);
  if (result.ok) return;
  const problems = result.problems.map((p) => {
    const at = p.indexOf(': ');
    const path = prefixed(inputField, problemPath(p));
    return { path, text: at === -1 ? `${path}: ${p}` : `${path}${p.slice(at)}` };
  });
  throw new ApiError(
    'BAD_REQUEST',
    `the configuration does not match the connector's spec: ${problems.map((p) => p.text).join('; ')}`,
    { path: problems[0]?.path ?? inputField, problems: problems.map((p) => p.text) },
  );
}
