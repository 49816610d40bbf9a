import { CliError } from '../errors';

/**
 * Placeholders Sluice itself fills in (a connection's namespaceFormat): left as they are.
 * Write `$${NAME}` for a literal `${NAME}`.
 */
const RESERVED = new Set(['SOURCE_NAMESPACE']);
const PATTERN = /\$(\$?)\{([^}]*)\}/g;

function pathLabel(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/**
 * Replaces `${VAR}` in every string of the document with the environment's value. A variable
 * that is not set is refused with its name and where it is used (never its value: the values
 * are secrets).
 */
export function interpolate(
  doc: unknown,
  env: Record<string, string | undefined>,
  path: (string | number)[] = [],
): unknown {
  if (typeof doc === 'string') {
    return doc.replace(PATTERN, (whole, escaped: string, name: string) => {
      if (escaped) return whole.slice(1);
      if (RESERVED.has(name)) return whole;
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
        throw new CliError(`${pathLabel(path)}: "\${${name}}" is not a valid environment variable reference`);
      }
      const value = env[name];
      if (value === undefined) {
        throw new CliError(`environment variable ${name} is not set (used in ${pathLabel(path)})`);
      }
      // An empty secret is almost always a variable exported without its value.
      if (value === '')
        throw new CliError(`environment variable ${name} is empty (used in ${pathLabel(path)})`);
      return value;
    });
  }
  if (Array.isArray(doc)) return doc.map((v, i) => interpolate(v, env, [...path, i]));
  if (doc && typeof doc === 'object') {
    return Object.fromEntries(Object.entries(doc).map(([k, v]) => [k, interpolate(v, env, [...path, k])]));
  }
  return doc;
}
