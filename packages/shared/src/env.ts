import type * as z from 'zod';

export class EnvError extends Error {
  override name = 'EnvError';
}

/**
 * Validates a process environment against a zod object schema. The error lists every
 * offending variable by name and never echoes a value, since values may be secrets.
 */
export function parseEnv<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const key = issue.path.join('.') || '(root)';
    return `  ${key}: ${issue.message}`;
  });
  throw new EnvError(`Invalid environment:\n${problems.join('\n')}`);
}
