import { databaseUrlFromEnv } from '@sluice/db';
import { parseEnv } from '@sluice/shared';
import { z } from 'zod';

/** What `sluice-create-admin` reads: the password comes from the environment, never argv (visible in `ps`). */
export const AdminEnv = z.object({
  SLUICE_ADMIN_EMAIL: z.email({ error: 'must be an email address' }),
  SLUICE_ADMIN_PASSWORD: z.string({ error: 'is required' }).min(10, 'must be at least 10 characters'),
  /** Name of the first workspace created for a new admin. */
  SLUICE_ADMIN_WORKSPACE: z.string().min(1).max(200).default('Default'),
  SLUICE_ADMIN_RESET_PASSWORD: z.enum(['true', 'false', '1', '0']).default('false'),
});
export type AdminEnv = z.infer<typeof AdminEnv>;

export function loadAdminEnv(source: Record<string, string | undefined> = process.env) {
  return { ...parseEnv(AdminEnv, source), DATABASE_URL: databaseUrlFromEnv(source) };
}
