import { z } from 'zod';

/**
 * Tuning knobs (not part of the spec: the defaults suit every user; tests and benchmarks move
 * them). A transaction is committed at a STATE once it holds this many bytes of input or has
 * been open this long; commits happen only at STATE boundaries, so what is committed is exactly
 * what the echoed states cover.
 */
export const DestinationPostgresEnv = z.object({
  DESTINATION_POSTGRES_COMMIT_BYTES: z.coerce
    .number()
    .int()
    .nonnegative()
    .default(64 * 1024 * 1024),
  DESTINATION_POSTGRES_COMMIT_INTERVAL_MS: z.coerce.number().int().nonnegative().default(5_000),
  /** `false` turns off reading plain records straight into COPY rows (see transcode.ts). */
  DESTINATION_POSTGRES_TRANSCODE: z.enum(['true', 'false']).default('true'),
});
export type DestinationPostgresEnv = z.infer<typeof DestinationPostgresEnv>;

export function parseEnv(env: Record<string, string | undefined> = process.env): DestinationPostgresEnv {
  const picked: Record<string, string> = {};
  for (const key of Object.keys(DestinationPostgresEnv.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') picked[key] = v;
  }
  const result = DestinationPostgresEnv.safeParse(picked);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  throw new Error(`invalid destination-postgres environment: ${problems.join('; ')}`);
}
