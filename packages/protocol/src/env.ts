import * as z from 'zod';

/**
 * The environment the connector SDK reads (Airbyte's names for socket mode, plus Sluice's
 * stream mapping). Parsed once per command; nothing else in this package reads process.env.
 */
export const SdkEnv = z.object({
  DATA_CHANNEL_MEDIUM: z.enum(['STDIO', 'SOCKET']).default('STDIO'),
  DATA_CHANNEL_FORMAT: z.enum(['JSONL', 'PROTOBUF']).default('JSONL'),
  /** Comma-separated Unix socket paths. */
  DATA_CHANNEL_SOCKET_PATHS: z.string().optional(),
  /** Path to a JSON stream mapping (see StreamMappingFile) applied before a destination's write handler. */
  SLUICE_STREAM_MAPPING: z.string().optional(),
  /** How long a source waits for the destination to connect, and a destination for the source's sockets. */
  SLUICE_SOCKET_CONNECT_TIMEOUT_MS: z.coerce.number().int().positive().default(300_000),
  /** Maximum bytes of one input line (destinations). */
  SLUICE_MAX_LINE_BYTES: z.coerce.number().int().positive().optional(),
});
export type SdkEnv = z.infer<typeof SdkEnv>;

export function parseSdkEnv(env: Record<string, string | undefined>): SdkEnv {
  // Empty strings mean "unset", as they do for most shells' exported-but-empty variables.
  const cleaned: Record<string, string> = {};
  for (const key of Object.keys(SdkEnv.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') cleaned[key] = v;
  }
  const result = SdkEnv.safeParse(cleaned);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new Error(`invalid connector environment: ${problems.join('; ')}`);
}

/** The process environment: the one place this package reads process.env. */
export function processEnv(): Record<string, string | undefined> {
  return process.env;
}
