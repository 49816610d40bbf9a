import { z } from 'zod';

/**
 * What the CLI reads from its environment: the only place it reads `process.env`. (Parsed
 * here rather than with @sluice/shared's parseEnv so the bundled CLI does not carry pino.)
 */
export const CliEnv = z.object({
  /** Overrides the server saved by `sluice login`. */
  SLUICE_URL: z.url({ error: 'must be a URL such as http://localhost:3000' }).optional(),
  /** Overrides the token saved by `sluice login` (CI: no config file needed). */
  SLUICE_TOKEN: z.string().min(1).optional(),
  /** Overrides the workspace saved by `sluice login` (name, slug or id). */
  SLUICE_WORKSPACE: z.string().min(1).optional(),
  /** Where config.json lives; default $XDG_CONFIG_HOME/sluice, else ~/.config/sluice. */
  SLUICE_CONFIG_DIR: z.string().min(1).optional(),
  XDG_CONFIG_HOME: z.string().min(1).optional(),
  HOME: z.string().min(1).optional(),
});
export type CliEnv = z.infer<typeof CliEnv>;

export function loadCliEnv(source: Record<string, string | undefined> = process.env): CliEnv {
  const picked = Object.fromEntries(Object.keys(CliEnv.shape).map((k) => [k, source[k] || undefined]));
  const result = CliEnv.safeParse(picked);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new Error(`Invalid environment:\n${problems.join('\n')}`);
}
