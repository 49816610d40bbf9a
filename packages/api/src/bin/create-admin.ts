import { createDb, redactUrl } from '@sluice/db';
import { loadAdminEnv } from '../env';
import { ensureAdminUser } from '../services/auth';

/**
 * Creates (or confirms) the first instance administrator, for the quickstart and operators:
 *   SLUICE_ADMIN_EMAIL=… SLUICE_ADMIN_PASSWORD=… DATABASE_URL=… node dist/create-admin.js
 * Idempotent; exits 1 with a message naming what is wrong.
 */
async function main() {
  let env: ReturnType<typeof loadAdminEnv>;
  try {
    env = loadAdminEnv();
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  }
  const db = createDb({ url: env.DATABASE_URL, poolMax: 2 });
  try {
    const result = await ensureAdminUser(db, {
      email: env.SLUICE_ADMIN_EMAIL,
      password: env.SLUICE_ADMIN_PASSWORD,
      workspaceName: env.SLUICE_ADMIN_WORKSPACE,
      resetPassword: env.SLUICE_ADMIN_RESET_PASSWORD === 'true' || env.SLUICE_ADMIN_RESET_PASSWORD === '1',
    });
    process.stdout.write(
      `${JSON.stringify({ admin: env.SLUICE_ADMIN_EMAIL, created: result.created, workspaceId: result.workspaceId })}\n`,
    );
  } catch (err) {
    process.stderr.write(
      `could not create the admin user in ${redactUrl(env.DATABASE_URL)}: ${(err as Error).message}\n`,
    );
    process.exitCode = 1;
  } finally {
    await db.$disconnect();
  }
}

void main();
