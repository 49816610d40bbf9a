import type { DbOrTx } from '@sluice/db';
import { z } from 'zod';
import type { Context } from '../context';
import { ApiError } from '../errors';
import type { ConnectionOrchestrator } from '../orchestrator';

export const Id = z.uuid({ error: 'must be a UUID' });

type Lifecycle = 'created' | 'updated' | 'enabled' | 'disabled' | 'deleted';

/**
 * Tells the worker about a committed change. Postgres already holds the truth, so a worker
 * that is down or slow must not fail the request: the failure is logged and the worker
 * reconciles from the database.
 */
export async function notifyOrchestrator(ctx: Context, event: Lifecycle, connectionIds: string | string[]) {
  const orchestrator = ctx.connections;
  if (!orchestrator) return;
  for (const id of Array.isArray(connectionIds) ? connectionIds : [connectionIds]) {
    try {
      await orchestrator[event](id);
    } catch (err) {
      ctx.logger.warn({ err, connectionId: id, event }, 'connection orchestrator notification failed');
    }
  }
}

export function requireOrchestrator(ctx: Context): ConnectionOrchestrator {
  if (!ctx.connections) {
    throw new ApiError(
      'PRECONDITION_FAILED',
      'no scheduler configured: this server cannot start, cancel or reset syncs (run the worker and configure it)',
    );
  }
  return ctx.connections;
}

export async function dataplaneGroupOf(db: DbOrTx, workspaceId: string): Promise<string> {
  const w = await db.workspace.findUniqueOrThrow({
    where: { id: workspaceId },
    select: { dataplaneGroup: true },
  });
  return w.dataplaneGroup;
}
