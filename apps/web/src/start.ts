import { ensureAdminUser, loadAdminEnv } from '@sluice/api';
import { ensureDataplaneToken, loadWorkloadEnv } from '@sluice/workload';
import { getStore } from './deps';

/**
 * Builds the API's dependencies at start-up, so a bad environment (a missing or malformed
 * SLUICE_SECRET_KEY, a bad DATABASE_URL or REDIS_URL) stops the server with a message naming
 * the variable instead of failing the first request. Then, when configured, registers the
 * dataplane token launchers will send (SLUICE_DATAPLANE_TOKEN) and the first administrator
 * (SLUICE_ADMIN_EMAIL + SLUICE_ADMIN_PASSWORD), both idempotent.
 */
export async function startApi(env: Record<string, string | undefined> = process.env): Promise<void> {
  try {
    const { deps } = getStore();
    const workload = loadWorkloadEnv(env);
    if (workload.dataplaneToken) {
      await ensureDataplaneToken(deps.db, { token: workload.dataplaneToken, group: workload.dataplaneGroup });
    }
    if (env.SLUICE_ADMIN_EMAIL) {
      const admin = loadAdminEnv(env);
      await ensureAdminUser(deps.db, {
        email: admin.SLUICE_ADMIN_EMAIL,
        password: admin.SLUICE_ADMIN_PASSWORD,
        workspaceName: admin.SLUICE_ADMIN_WORKSPACE,
        resetPassword:
          admin.SLUICE_ADMIN_RESET_PASSWORD === 'true' || admin.SLUICE_ADMIN_RESET_PASSWORD === '1',
      });
    }
  } catch (err) {
    process.stderr.write(`sluice web: cannot start: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
